// Package trusted holds trusted documents: the operations a manifest of persisted operations
// lists, the only ones Agora runs in trusted-documents mode.
package trusted

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/agora/agora/internal/apperr"
)

// Manifest is a loaded persisted-operation manifest.
type Manifest struct {
	byID  map[string]string   // id → document
	texts map[string]struct{} // the documents themselves
}

// Load reads a manifest file in either format Parse reads.
func Load(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("trusted documents %s: %w", path, err)
	}
	return m, nil
}

// Parse reads a manifest: Apollo's persisted query manifest
// ({"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","name","type","body"}]})
// or the object of id → document that GraphQL Code Generator's client preset writes
// (persisted-documents.json).
func Parse(b []byte) (*Manifest, error) {
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	_ = json.Unmarshal(b, &probe)
	m := &Manifest{byID: map[string]string{}, texts: map[string]struct{}{}}
	if probe.Format != "" {
		if probe.Format != "apollo-persisted-query-manifest" || probe.Version != 1 {
			return nil, fmt.Errorf("unknown manifest format %q version %d (want apollo-persisted-query-manifest version 1)", probe.Format, probe.Version)
		}
		var apollo struct {
			Operations []struct {
				ID   string `json:"id"`
				Body string `json:"body"`
			} `json:"operations"`
		}
		if err := json.Unmarshal(b, &apollo); err != nil {
			return nil, err
		}
		for _, op := range apollo.Operations {
			if err := m.add(op.ID, op.Body); err != nil {
				return nil, err
			}
		}
	} else {
		var docs map[string]string
		if err := json.Unmarshal(b, &docs); err != nil {
			return nil, errors.New("want Apollo's persisted query manifest or a JSON object of id → document")
		}
		for id, doc := range docs {
			if err := m.add(id, doc); err != nil {
				return nil, err
			}
		}
	}
	if len(m.byID) == 0 {
		return nil, errors.New("the manifest lists no operation")
	}
	return m, nil
}

func (m *Manifest) add(id, doc string) error {
	if id == "" || doc == "" {
		return errors.New("an operation without an id or a body")
	}
	if prev, ok := m.byID[id]; ok && prev != doc {
		return fmt.Errorf("id %s names two different documents", id)
	}
	m.byID[id] = doc
	m.texts[doc] = struct{}{}
	return nil
}

// Len is the number of operations in the manifest.
func (m *Manifest) Len() int { return len(m.byID) }

// Refusal is why a request's operation may not run, with the code the client sees.
type Refusal struct{ Code, Message string }

func (r *Refusal) Error() string { return r.Message }

// The refusals.
var (
	ErrNotFound   = &Refusal{apperr.CodeDocumentNotFound, "no trusted document has this id"}
	ErrNotTrusted = &Refusal{apperr.CodeNotTrusted, "only trusted documents run here: send the id of a document in the manifest (documentId or extensions.persistedQuery.sha256Hash)"}
)

// Resolve returns the document a request may run: its text when it sent one that is in the
// manifest (whatever id came with it), else the document of its id. Anything else is refused.
func (m *Manifest) Resolve(query, id string) (string, *Refusal) {
	if query != "" {
		if _, ok := m.texts[query]; ok {
			return query, nil
		}
		return "", ErrNotTrusted
	}
	if id == "" {
		return "", ErrNotTrusted
	}
	if doc, ok := m.byID[id]; ok {
		return doc, nil
	}
	return "", ErrNotFound
}
