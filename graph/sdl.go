package graph

import "strings"

// SubgraphSDL is the schema Agora gives a federation router as _service.sdl: the hand-written and
// generated schema files, without gqlgen's built-in definitions.
func SubgraphSDL() string {
	var sdl []string
	for _, src := range sources {
		if !src.BuiltIn {
			sdl = append(sdl, src.Input)
		}
	}
	return strings.Join(sdl, "\n")
}
