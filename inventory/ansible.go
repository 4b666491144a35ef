package inventory

import "gopkg.in/yaml.v3"

func looksLikeAnsibleYAML(data []byte) bool { return false }

func (l *loader) parseAnsibleINI(path string, data []byte)  {}
func (l *loader) parseAnsibleYAML(path string, data []byte) {}
func (l *loader) readVarsDirs()                             {}

// parseFlowValue parses a YAML flow value ("[a, b]") from the command line or
// an INI file.
func (l *loader) parseFlowValue(s string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}
