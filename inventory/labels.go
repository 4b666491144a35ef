package inventory

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Label is one host label: netdata.conf [host labels] NAME = VALUE.
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Label limits: RRDLABELS_MAX_NAME_LENGTH and RRDLABELS_MAX_VALUE_LENGTH
// (Netdata v2.11.0 src/database/rrdlabels.h:23-24).
const (
	maxLabelName  = 200
	maxLabelValue = 800
)

// checkLabelName accepts a label name the agent keeps as written: the
// characters its sanitizer leaves alone in names, letters, digits, '_',
// '-', '.' and '/' (src/libnetdata/sanitizers/sanitizers-labels.c:1-52,
// v2.11.0; it turns every other one into '_' or '.', so a name with one
// would not be the label fleetclaim compares). A leading '_' is refused:
// the agent's own labels (_hostname, _is_ephemeral, ...) start with it
// (src/database/rrdhost-labels.c, rrdhost_load_auto_labels).
func checkLabelName(s string) error {
	switch {
	case s == "":
		return errors.New("empty label name")
	case len(s) > maxLabelName:
		return fmt.Errorf("label name %q is longer than %d bytes", truncate(s, 40), maxLabelName)
	case s[0] == '_':
		return fmt.Errorf("label name %q starts with '_', which is for the labels the agent sets itself", truncate(s, 60))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/') {
			return fmt.Errorf("label name %q: a label name holds only letters, digits, '_', '-', '.' and '/' (the agent changes any other character)", truncate(s, 60))
		}
	}
	return nil
}

// checkLabelValue accepts a value the agent keeps as written: letters
// (UTF-8 too), digits, single inner spaces and _ - . / : @ + ( ) [ ]
// (sanitizers-labels.c:1-52, v2.11.0). '$' is refused too: the agent
// expands environment variables in label values (rrdhost-labels.c,
// config_label_cb).
func checkLabelValue(s string) error {
	switch {
	case s == "":
		return errors.New("empty label value")
	case len(s) > maxLabelValue:
		return fmt.Errorf("label value %q is longer than %d bytes", truncate(s, 40), maxLabelValue)
	case !utf8.ValidString(s):
		return errors.New("label value is not valid UTF-8")
	case strings.TrimSpace(s) != s || strings.Contains(s, "  "):
		return fmt.Errorf("label value %q: leading, trailing or repeated spaces (the agent removes them)", truncate(s, 60))
	}
	for _, r := range s {
		switch {
		case r >= 0x80:
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune(" _-./:@+()[]", r):
		default:
			return fmt.Errorf("label value %q: %q is changed by the agent; a value holds letters, digits, spaces and _ - . / : @ + ( ) [ ]", truncate(s, 60), r)
		}
	}
	return nil
}

// labels parses a labels setting: a mapping of names to values, or one
// string "name=value,name2=value2" (for --set and CSV). The pairs are
// kept in v.list as NAME "\x00" VALUE, in order.
func (c *conv) labels(n *yaml.Node, file, fullKey string) ([]string, bool) {
	var out []string
	seen := map[string]bool{}
	add := func(name, value string, line, col int) bool {
		if err := checkLabelName(name); err != nil {
			c.errorf(file, line, col, fullKey, "%v", err)
			return false
		}
		if err := checkLabelValue(value); err != nil {
			c.errorf(file, line, col, fullKey+"."+name, "%v", err)
			return false
		}
		if seen[name] {
			c.errorf(file, line, col, fullKey+"."+name, "label %s is given twice", name)
			return false
		}
		seen[name] = true
		out = append(out, name+"\x00"+value)
		return true
	}
	switch {
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				c.errorf(file, v.Line, v.Column, fullKey+"."+k.Value, "want a label value (a string), got %s", kindName(v))
				return nil, false
			}
			if !add(k.Value, v.Value, k.Line, k.Column) {
				return nil, false
			}
		}
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		for part := range strings.SplitSeq(n.Value, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				c.errorf(file, n.Line, n.Column, fullKey, "want name=value pairs separated by commas, got %q", truncate(part, 60))
				return nil, false
			}
			if !add(strings.TrimSpace(name), strings.TrimSpace(value), n.Line, n.Column) {
				return nil, false
			}
		}
	default:
		c.errorf(file, n.Line, n.Column, fullKey, "want %s, got %s", kindWant(kLabels), kindName(n))
		return nil, false
	}
	if len(out) == 0 {
		c.errorf(file, n.Line, n.Column, fullKey, "no labels")
		return nil, false
	}
	return out, true
}

// labelPairs turns a labels value back into labels.
func labelPairs(list []string) []Label {
	out := make([]Label, len(list))
	for i, p := range list {
		name, value, _ := strings.Cut(p, "\x00")
		out[i] = Label{Name: name, Value: value}
	}
	return out
}

// labelsString is labels as "name=value, ..." for listings.
func labelsString(ls []Label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + "=" + l.Value
	}
	return strings.Join(parts, ", ")
}

// optBool is an optional boolean for listings ("" when unset).
func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	return boolString(*b)
}
