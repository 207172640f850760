package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

func TestDebugTmp(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{SQLitePath: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Migrate(ctx)
	cfg := config.Config{TokenIssuer: "agora-test", AccessTokenTTL: time.Hour}
	app := newApp(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)), db, []byte("test-secret-test-secret-test-secret!"))
	srv := httptest.NewServer(app.handler())
	defer srv.Close()
	a := &api{GraphQL: testenv.GraphQL{URL: srv.URL + "/graphql"}, srv: srv, db: db}
	ada := a.register(t, "ada")
	bob := a.register(t, "bob")
	p := a.createPost(t, bob, map[string]any{"title": "Liked", "publish": true})
	r := a.as(ada).Post(t, likeMutation, map[string]any{"id": p.ID})
	t.Logf("%+v %s", r.Errors, r.Data)
	r = a.as(ada).Post(t, likeMutation, map[string]any{"id": p.ID})
	t.Logf("%+v %s", r.Errors, r.Data)
	r = a.as(ada).Post(t, followMutation, map[string]any{"id": bob.ID})
	t.Logf("%+v %s", r.Errors, r.Data)
}
