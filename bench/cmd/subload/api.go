package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// api is the tool's own user over GraphQL-over-HTTP: it registers, writes the posts the
// subscribers watch, and comments on them.
type api struct {
	url      string
	client   *http.Client
	username string
	token    string
	posts    []string // IDs
}

func newAPI(url string) *api {
	return &api{url: url, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
}

func (a *api) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || res.StatusCode != http.StatusOK || len(r.Errors) > 0 {
		return fmt.Errorf("%s answered %d: %.300s", a.url, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// setUp registers a user and publishes n posts.
func (a *api) setUp(ctx context.Context, n int) error {
	suffix := make([]byte, 5)
	_, _ = rand.Read(suffix)
	a.username = "subload_" + hex.EncodeToString(suffix)
	var reg struct{ Register struct{ AccessToken string } }
	if err := a.do(ctx, `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`, map[string]any{"i": map[string]any{
		"username": a.username, "email": a.username + "@example.com", "password": "subload password " + a.username,
	}}, &reg); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	a.token = reg.Register.AccessToken
	for i := range n {
		var p struct {
			CreatePost struct{ Post struct{ ID string } }
		}
		if err := a.do(ctx, `mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }`, map[string]any{"i": map[string]any{
			"title": fmt.Sprintf("Subscription load %d", i+1), "body": "Comments arrive live.", "publish": true,
		}}, &p); err != nil {
			return fmt.Errorf("createPost: %w", err)
		}
		a.posts = append(a.posts, p.CreatePost.Post.ID)
	}
	return nil
}

// comment adds a comment to post i.
func (a *api) comment(ctx context.Context, i int, body string) error {
	return a.do(ctx, `mutation($p: ID!, $b: String!) { addComment(input: {postID: $p, body: $b}) { comment { id } } }`,
		map[string]any{"p": a.posts[i], "b": body}, nil)
}
