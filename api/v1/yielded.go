package v1

import (
	"sort"
	"strings"
)

// YieldedFields reads the yielded-fields annotation: server-side apply field paths separated by commas. A path
// may itself hold commas inside a key ([containerPort=80,protocol="TCP"]), so only the commas outside brackets
// and quotes separate.
func YieldedFields(annotation string) []string {
	var out []string
	depth, inString, start := 0, false, 0
	add := func(f string) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	for i := 0; i < len(annotation); i++ {
		switch c := annotation[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			add(annotation[start:i])
			start = i + 1
		}
	}
	add(annotation[start:])
	return out
}

// JoinYieldedFields writes the yielded-fields annotation: sorted and without repeats, so that the same fields
// always give the same value and an unchanged set costs no write.
func JoinYieldedFields(fields []string) string {
	set := make(map[string]bool, len(fields))
	all := make([]string, 0, len(fields))
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" && !set[f] {
			set[f] = true
			all = append(all, f)
		}
	}
	sort.Strings(all)
	return strings.Join(all, ",")
}
