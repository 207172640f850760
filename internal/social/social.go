// Package social records who likes which post and who follows whom.
package social

import (
	"context"
	"database/sql"
	"errors"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/like"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/notify"
)

// Service writes likes and follows. Every operation is idempotent. The notifications a write
// causes are registered on its transaction and sent once it commits; the cached counts it changes
// are invalidated by the hooks of the loader's cache.
type Service struct {
	client *ent.Client
	notify *notify.Service
}

// New returns a Service.
func New(client *ent.Client, n *notify.Service) *Service {
	return &Service{client: client, notify: n}
}

// LikePost records that the viewer likes a post they can see, and returns the post. Its author is
// notified of a new like.
func (s *Service) LikePost(ctx context.Context, postID int) (*ent.Post, error) {
	return s.withPost(ctx, postID, func(ctx context.Context, tx *ent.Tx, viewer int, p *ent.Post) error {
		liked, err := insertOnce(ctx, tx.Like.Query().Where(like.UserID(viewer), like.PostID(postID)).Exist,
			tx.Like.Create().SetUserID(viewer).SetPostID(postID).OnConflictColumns(like.FieldUserID, like.FieldPostID).DoNothing().Exec)
		if err == nil && liked {
			err = s.notify.Notify(ctx, notify.Notice{Kind: notification.KindPOST_LIKED, Recipient: p.AuthorID, Actor: viewer, Post: &postID})
		}
		return err
	})
}

// UnlikePost takes the viewer's like of a post back, and returns the post.
func (s *Service) UnlikePost(ctx context.Context, postID int) (*ent.Post, error) {
	return s.withPost(ctx, postID, func(ctx context.Context, tx *ent.Tx, viewer int, _ *ent.Post) error {
		_, err := tx.Like.Delete().Where(like.UserID(viewer), like.PostID(postID)).Exec(ctx)
		return err
	})
}

// withPost runs fn in a transaction on a post the viewer can see, and returns the post.
func (s *Service) withPost(ctx context.Context, postID int, fn func(context.Context, *ent.Tx, int, *ent.Post) error) (*ent.Post, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	var p *ent.Post
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) (err error) {
		p, err = tx.Post.Query().Where(post.ID(postID)).Only(ctx)
		if ent.IsNotFound(err) {
			return &apperr.Error{Kind: apperr.NotFound, Field: "postID", Message: "post not found"}
		}
		if err != nil {
			return err
		}
		return fn(ctx, tx, v.UserID, p)
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// FollowUser makes the viewer follow a user, and returns the user. The user is notified of a new
// follower.
func (s *Service) FollowUser(ctx context.Context, userID int) (*ent.User, error) {
	return s.withUser(ctx, userID, func(ctx context.Context, tx *ent.Tx, viewer int) error {
		if viewer == userID {
			return apperr.InvalidField("userID", "you cannot follow yourself")
		}
		followed, err := insertOnce(ctx, tx.Follow.Query().Where(follow.UserID(userID), follow.FollowingID(viewer)).Exist,
			tx.Follow.Create().SetUserID(userID).SetFollowingID(viewer).OnConflictColumns(follow.FieldUserID, follow.FieldFollowingID).DoNothing().Exec)
		if err == nil && followed {
			err = s.notify.Notify(ctx, notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: userID, Actor: viewer})
		}
		return err
	})
}

// UnfollowUser makes the viewer stop following a user, and returns the user.
func (s *Service) UnfollowUser(ctx context.Context, userID int) (*ent.User, error) {
	return s.withUser(ctx, userID, func(ctx context.Context, tx *ent.Tx, viewer int) error {
		_, err := tx.Follow.Delete().Where(follow.UserID(userID), follow.FollowingID(viewer)).Exec(ctx)
		return err
	})
}

// withUser runs fn in a transaction on an existing user, and returns the user.
func (s *Service) withUser(ctx context.Context, userID int, fn func(context.Context, *ent.Tx, int) error) (*ent.User, error) {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	var u *ent.User
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) (err error) {
		u, err = tx.User.Query().Where(user.ID(userID)).Only(ctx)
		if ent.IsNotFound(err) {
			return &apperr.Error{Kind: apperr.NotFound, Field: "userID", Message: "user not found"}
		}
		if err != nil {
			return err
		}
		return fn(ctx, tx, v.UserID)
	})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

// insertOnce inserts a row unless exists finds it, and reports whether it did. The insert still
// ignores a conflict: a concurrent request may insert the row between the two.
func insertOnce(ctx context.Context, exists func(context.Context) (bool, error), insert func(context.Context) error) (bool, error) {
	if ok, err := exists(ctx); err != nil || ok {
		return false, err
	}
	return true, ignoreNoRows(insert(ctx))
}

// ignoreNoRows accepts the outcome of an insert that did nothing because the row exists: the
// operation is idempotent, so "already there" is success.
func ignoreNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}
