package inventory

import "testing"

// TestEveryKindHasAParser: a key whose kind has no entry in kindParsers
// would panic on its first value.
func TestEveryKindHasAParser(t *testing.T) {
	for _, kd := range keyTable {
		if int(kd.kind) >= len(kindParsers) || kindParsers[kd.kind] == nil {
			t.Errorf("key %s: kind %d has no parser", kd.name, kd.kind)
		}
	}
}
