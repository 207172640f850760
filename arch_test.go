package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps imports flowing one way (see ARCHITECTURE.md): nothing below graph imports
// it, and the base packages import nothing of ours.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/agora/agora"
	base := map[string]bool{mod + "/internal/config": true, mod + "/internal/apperr": true, mod + "/internal/telemetry": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, imp := range imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			switch {
			case imp == mod:
				t.Errorf("%s imports the main package", pkg)
			case strings.HasPrefix(imp, mod+"/graph") && !strings.HasPrefix(pkg, mod+"/graph") && pkg != mod:
				t.Errorf("%s imports %s: only server.go may use the GraphQL layer", pkg, imp)
			case base[pkg]:
				t.Errorf("%s is a base package but imports %s", pkg, imp)
			case strings.HasPrefix(imp, mod+"/internal/testenv"):
				t.Errorf("%s imports testenv outside tests", pkg)
			}
		}
	}
}
