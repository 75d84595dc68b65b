package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestIndentWriterIndentsLikeTheEncoder: streamed in pieces of any size,
// the output is what json.Encoder with SetIndent("", "  ") writes.
func TestIndentWriterIndentsLikeTheEncoder(t *testing.T) {
	v := map[string]any{
		"empty_object": map[string]any{}, "empty_list": []int{}, "nested": []any{map[string]any{"a": 1, "b": []string{"x", "y"}}, nil, true},
		"tricky": "quote \" backslash \\ brace { bracket ] comma , colon : \u202e <b>",
		"number": -1.5e10,
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	compact, _ := json.Marshal(v)
	compact = append(compact, '\n')
	for _, size := range []int{1, 2, 7, len(compact)} {
		var got bytes.Buffer
		w := newIndentWriter(&got)
		for i := 0; i < len(compact); i += size {
			w.Write(compact[i:min(i+size, len(compact))])
		}
		if got.String() != want.String() {
			t.Fatalf("pieces of %d:\n%s\nwant\n%s", size, got.String(), want.String())
		}
	}
}
