// Package publish writes posts, their tags and comments, and enforces who may change them.
package publish

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/media"
	"github.com/agora/agora/internal/notify"
)

// Service writes posts and comments. Its writes' effects — the live event and notification of a
// new comment — are registered on their transaction and happen once it commits; the cached posts,
// tags and counts they change are invalidated by the hooks of the loader's cache.
type Service struct {
	client *ent.Client
	live   *live.Service
	notify *notify.Service
	images *media.Service // covers and inline images; nil: released ones are left to the sweep
}

// New returns a Service.
func New(client *ent.Client, l *live.Service, n *notify.Service) *Service {
	return &Service{client: client, live: l, notify: n}
}

// SetImages has the posts' released images deleted by jobs of m.
func (s *Service) SetImages(m *media.Service) *Service { s.images = m; return s }

// CreatePostInput is a new post (bound to the GraphQL input of the same name).
type CreatePostInput struct {
	Title       string
	Description *string
	Body        *string
	Tags        []string
	Publish     *bool
	// Visibility is who reads the body: PUBLIC (the default) or MEMBERS.
	Visibility *post.Visibility
	// CoverImageID is a POST_COVER image of the author's.
	CoverImageID *int `json:"coverImageID"`
}

// UpdatePostInput are changes to a post; nil fields stay as they are.
type UpdatePostInput struct {
	ID          int
	Title       *string
	Description *string
	Body        *string
	Tags        []string
	Visibility  *post.Visibility
	// CoverImageID replaces the cover with a POST_COVER image of the author's; RemoveCover removes it.
	CoverImageID *int `json:"coverImageID"`
	RemoveCover  *bool
}

// AddCommentInput is a new comment (bound to the GraphQL input of the same name).
type AddCommentInput struct {
	PostID int `json:"postID"`
	Body   string
}

type postFields struct {
	title, description, body string
	tags                     []string
}

func validatePost(title, description, body *string, tags []string) (f postFields, err error) {
	if title != nil {
		if f.title, err = apperr.Text("title", *title, 1, 200); err != nil {
			return f, err
		}
	}
	if description != nil {
		if f.description, err = apperr.Text("description", *description, 0, 500); err != nil {
			return f, err
		}
	}
	if body != nil {
		if utf8.RuneCountInString(*body) > maxBodyLen { // characters, as the schema states
			return f, apperr.InvalidField("body", "must be at most %d characters", maxBodyLen)
		}
		f.body = *body
	}
	if tags != nil {
		f.tags, err = normalizeTags(tags)
	}
	return f, err
}

// CreatePost writes a post by the viewer, a draft unless in.Publish.
func (s *Service) CreatePost(ctx context.Context, in CreatePostInput) (*ent.Post, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	f, err := validatePost(&in.Title, in.Description, in.Body, in.Tags)
	if err != nil {
		return nil, err
	}
	var p *ent.Post
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		tagIDs, err := ensureTags(ctx, tx, f.tags)
		if err != nil {
			return err
		}
		create := tx.Post.Create().
			SetAuthorID(v.UserID).
			SetSlug(newSlug(f.title)).
			SetTitle(f.title).
			SetDescription(f.description).
			SetBody(f.body).
			SetNillableCoverID(in.CoverImageID).
			SetNillableVisibility(in.Visibility).
			AddTagIDs(tagIDs...)
		if in.Publish != nil && *in.Publish {
			create.SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now().UTC())
		}
		if p, err = create.Save(ctx); err != nil {
			return err
		}
		return s.attachImages(ctx, tx, p.ID, nil, in.CoverImageID, &f.body)
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// UpdatePost changes a post of the viewer's.
func (s *Service) UpdatePost(ctx context.Context, in UpdatePostInput) (*ent.Post, error) {
	f, err := validatePost(in.Title, in.Description, in.Body, in.Tags)
	if err != nil {
		return nil, err
	}
	if in.CoverImageID != nil && in.RemoveCover != nil && *in.RemoveCover {
		return nil, apperr.InvalidField("removeCover", "give coverImageID or removeCover, not both")
	}
	return s.changePost(ctx, in.ID, authorOnly, func(ctx context.Context, tx *ent.Tx, p *ent.Post) (*ent.Post, error) {
		var body *string
		if in.Body != nil {
			body = &f.body
		}
		if err := s.attachImages(ctx, tx, p.ID, p.CoverID, in.CoverImageID, body); err != nil {
			return nil, err
		}
		upd := p.Update()
		switch {
		case in.CoverImageID != nil:
			upd.SetCoverID(*in.CoverImageID)
		case in.RemoveCover != nil && *in.RemoveCover && p.CoverID != nil:
			if err := s.images.ReleaseImage(ctx, tx, *p.CoverID); err != nil {
				return nil, err
			}
			upd.ClearCoverID()
		}
		if in.Title != nil {
			upd.SetTitle(f.title)
		}
		if in.Description != nil {
			upd.SetDescription(f.description)
		}
		if in.Body != nil {
			upd.SetBody(f.body)
		}
		if in.Visibility != nil {
			upd.SetVisibility(*in.Visibility)
		}
		if in.Tags != nil {
			tagIDs, err := ensureTags(ctx, tx, f.tags)
			if err != nil {
				return nil, err
			}
			upd.ClearTags().AddTagIDs(tagIDs...)
		}
		return upd.Save(ctx)
	})
}

// attachImages attaches a new cover (releasing previous) and the inline images body refers to.
func (s *Service) attachImages(ctx context.Context, tx *ent.Tx, postID int, previous, cover *int, body *string) error {
	if cover != nil {
		if err := s.images.AttachCover(ctx, tx, postID, *cover, previous); err != nil {
			return err
		}
	}
	if body != nil {
		return s.images.AttachInline(ctx, tx, postID, *body)
	}
	return nil
}

// PublishPost publishes a draft of the viewer's; a published post stays as it is.
func (s *Service) PublishPost(ctx context.Context, id int) (*ent.Post, error) {
	return s.changePost(ctx, id, authorOnly, func(ctx context.Context, _ *ent.Tx, p *ent.Post) (*ent.Post, error) {
		if p.Status == post.StatusPUBLISHED {
			return p, nil
		}
		return p.Update().SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now().UTC()).Save(ctx)
	})
}

// DeletePost deletes a post of the viewer's, or any post for a moderator; its comments, likes and
// tag links go with it.
func (s *Service) DeletePost(ctx context.Context, id int) error {
	_, err := s.changePost(ctx, id, authorOrModerator, func(ctx context.Context, tx *ent.Tx, p *ent.Post) (*ent.Post, error) {
		if err := s.images.ReleasePost(ctx, tx, p.ID); err != nil {
			return nil, err
		}
		return p, tx.Post.DeleteOne(p).Exec(ctx)
	})
	return err
}

// SetPostHidden hides a post from everyone but its author and moderators, or shows it again;
// moderators only.
func (s *Service) SetPostHidden(ctx context.Context, id int, hidden bool) (*ent.Post, error) {
	return s.changePost(ctx, id, moderatorOnly, func(ctx context.Context, _ *ent.Tx, p *ent.Post) (*ent.Post, error) {
		if hidden == (p.HiddenAt != nil) {
			return p, nil
		}
		upd := p.Update()
		if hidden {
			upd.SetHiddenAt(time.Now().UTC())
		} else {
			upd.ClearHiddenAt()
		}
		return upd.Save(ctx)
	})
}

// who may change a post or comment.
type who int

const (
	authorOnly who = iota
	authorOrModerator
	moderatorOnly
)

// may reports whether viewer v may change content written by author, and the error if not.
func (w who) may(v auth.Viewer, author int) error {
	switch {
	case !v.Authenticated():
		return apperr.ErrUnauthenticated
	case w != moderatorOnly && author == v.UserID, w != authorOnly && v.Moderator():
		return nil
	case w == moderatorOnly:
		return apperr.Forbiddenf("moderators only")
	}
	return apperr.Forbiddenf("only the author may change this")
}

// changePost runs change on post id in a transaction, if the viewer may.
func (s *Service) changePost(ctx context.Context, id int, w who, change func(context.Context, *ent.Tx, *ent.Post) (*ent.Post, error)) (*ent.Post, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	var p *ent.Post
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		cur, err := tx.Post.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFoundf("post %d not found", id)
		}
		if err != nil {
			return err
		}
		if err := w.may(v, cur.AuthorID); err != nil {
			return err
		}
		p, err = change(ctx, tx, cur)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// ensureTags returns the IDs of the named tags, creating those that do not exist yet.
func ensureTags(ctx context.Context, tx *ent.Tx, names []string) ([]int, error) {
	if len(names) == 0 {
		return nil, nil
	}
	creates := make([]*ent.TagCreate, len(names))
	for i, n := range names {
		creates[i] = tx.Tag.Create().SetName(n)
	}
	if err := tx.Tag.CreateBulk(creates...).OnConflictColumns(tag.FieldName).DoNothing().Exec(ctx); err != nil {
		return nil, err
	}
	// New tags are on no visible post yet, so the tag privacy filter would hide them.
	return tx.Tag.Query().Where(tag.NameIn(names...)).IDs(privacy.DecisionContext(ctx, privacy.Allow))
}

// AddComment comments as the viewer on a post they can see; once the comment is committed, it is
// announced to the post's live subscribers and the post's author is notified.
func (s *Service) AddComment(ctx context.Context, in AddCommentInput) (*ent.Comment, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	body, err := apperr.Text("body", in.Body, 1, 10_000)
	if err != nil {
		return nil, err
	}
	var c *ent.Comment
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		p, err := tx.Post.Query().Where(post.ID(in.PostID)).Only(ctx)
		if ent.IsNotFound(err) {
			return &apperr.Error{Kind: apperr.NotFound, Field: "postID", Message: "post not found"}
		}
		if err != nil {
			return err
		}
		if c, err = tx.Comment.Create().SetAuthorID(v.UserID).SetPostID(in.PostID).SetBody(body).Save(ctx); err != nil {
			return err
		}
		s.live.CommentAdded(ctx, in.PostID, c.ID)
		return s.notify.Notify(ctx, notify.Notice{Kind: notification.KindNEW_COMMENT, Recipient: p.AuthorID, Actor: v.UserID, Post: &in.PostID, Comment: &c.ID})
	})
	if err != nil {
		return nil, err
	}
	return c.Unwrap(), nil
}

// DeleteComment deletes a comment of the viewer's, or any comment for a moderator, and returns its
// post.
func (s *Service) DeleteComment(ctx context.Context, id int) (*ent.Post, error) {
	var p *ent.Post
	_, err := s.changeComment(ctx, id, authorOrModerator, func(ctx context.Context, tx *ent.Tx, c *ent.Comment) (_ *ent.Comment, err error) {
		// Whoever may see a comment may see its post.
		if p, err = tx.Post.Get(ctx, c.PostID); err != nil {
			return nil, err
		}
		return c, tx.Comment.DeleteOne(c).Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// SetCommentHidden hides a comment from everyone but its author and moderators, or shows it again;
// moderators only.
func (s *Service) SetCommentHidden(ctx context.Context, id int, hidden bool) (*ent.Comment, error) {
	return s.changeComment(ctx, id, moderatorOnly, func(ctx context.Context, _ *ent.Tx, c *ent.Comment) (*ent.Comment, error) {
		if hidden == (c.HiddenAt != nil) {
			return c, nil
		}
		upd := c.Update()
		if hidden {
			upd.SetHiddenAt(time.Now().UTC())
		} else {
			upd.ClearHiddenAt()
		}
		return upd.Save(ctx)
	})
}

// changeComment runs change on comment id in a transaction, if the viewer may.
func (s *Service) changeComment(ctx context.Context, id int, w who, change func(context.Context, *ent.Tx, *ent.Comment) (*ent.Comment, error)) (*ent.Comment, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	var c *ent.Comment
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		cur, err := tx.Comment.Query().Where(comment.ID(id)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFoundf("comment %d not found", id)
		}
		if err != nil {
			return err
		}
		if err := w.may(v, cur.AuthorID); err != nil {
			return err
		}
		c, err = change(ctx, tx, cur)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.Unwrap(), nil
}
