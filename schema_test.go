package main

import (
	"os"
	"strings"
	"testing"
)

// TestPublicSchemaCommitted: schema.graphql, which client code generators read, is the schema
// Agora serves (go generate rewrites it).
func TestPublicSchemaCommitted(t *testing.T) {
	var b strings.Builder
	if err := printSchema(&b, nil); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != b.String() {
		t.Fatal("schema.graphql is out of date: run go generate ./... (or go run . schema > schema.graphql) and commit it")
	}
	b.Reset()
	if err := printSchema(&b, []string{"subgraph"}); err != nil || !strings.Contains(b.String(), `extend type User @key(fields: "id")`) {
		t.Fatalf("agora schema subgraph: %v\n%s", err, b.String())
	}
}
