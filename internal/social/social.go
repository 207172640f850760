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
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/notify"
)

// Service writes likes and follows. Every operation is idempotent.
type Service struct {
	client *ent.Client
	cache  cache.Store // the cached counts it changes are invalidated after commit
	notify *notify.Service
}

// New returns a Service.
func New(client *ent.Client, c cache.Store, n *notify.Service) *Service {
	return &Service{client: client, cache: c, notify: n}
}

// LikePost records that the viewer likes a post they can see.
// Its author is notified of a new like.
func (s *Service) LikePost(ctx context.Context, postID int) error {
	var author int
	var liked bool // by this call
	err := s.withPost(ctx, postID, func(ctx context.Context, tx *ent.Tx, viewer int, p *ent.Post) (err error) {
		author = p.AuthorID
		liked, err = insertOnce(ctx, tx.Like.Query().Where(like.UserID(viewer), like.PostID(postID)).Exist,
			tx.Like.Create().SetUserID(viewer).SetPostID(postID).OnConflictColumns(like.FieldUserID, like.FieldPostID).DoNothing().Exec)
		return err
	})
	if err := s.changed(ctx, err, loader.LikeCountKey(postID)); err != nil {
		return err
	}
	if liked {
		s.notify.Notify(ctx, notify.Notice{Kind: notification.KindPOST_LIKED, Recipient: author, Actor: auth.FromContext(ctx).UserID, Post: &postID})
	}
	return nil
}

// UnlikePost takes the viewer's like of a post back.
func (s *Service) UnlikePost(ctx context.Context, postID int) error {
	err := s.withPost(ctx, postID, func(ctx context.Context, tx *ent.Tx, viewer int, _ *ent.Post) error {
		_, err := tx.Like.Delete().Where(like.UserID(viewer), like.PostID(postID)).Exec(ctx)
		return err
	})
	return s.changed(ctx, err, loader.LikeCountKey(postID))
}

// changed invalidates the cached counts a committed write changed; a failed write changed nothing.
func (s *Service) changed(ctx context.Context, err error, keys ...string) error {
	if err != nil {
		return err
	}
	_ = s.cache.Invalidate(ctx, keys...) // a failure leaves the count stale for at most its TTL
	return nil
}

func (s *Service) withPost(ctx context.Context, postID int, fn func(context.Context, *ent.Tx, int, *ent.Post) error) error {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return apperr.ErrUnauthenticated
	}
	return database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		p, err := tx.Post.Query().Where(post.ID(postID)).Only(ctx)
		if ent.IsNotFound(err) {
			return &apperr.Error{Kind: apperr.NotFound, Field: "postID", Message: "post not found"}
		}
		if err != nil {
			return err
		}
		return fn(ctx, tx, v.UserID, p)
	})
}

// FollowUser makes the viewer follow a user.
// The user is notified of a new follower.
func (s *Service) FollowUser(ctx context.Context, userID int) error {
	var followed bool // by this call
	err := s.withUser(ctx, userID, func(ctx context.Context, tx *ent.Tx, viewer int) (err error) {
		if viewer == userID {
			return apperr.InvalidField("userID", "you cannot follow yourself")
		}
		followed, err = insertOnce(ctx, tx.Follow.Query().Where(follow.UserID(userID), follow.FollowingID(viewer)).Exist,
			tx.Follow.Create().SetUserID(userID).SetFollowingID(viewer).OnConflictColumns(follow.FieldUserID, follow.FieldFollowingID).DoNothing().Exec)
		return err
	})
	viewer := auth.FromContext(ctx).UserID
	if err := s.changed(ctx, err, loader.FollowerCountKey(userID), loader.FollowingCountKey(viewer)); err != nil {
		return err
	}
	if followed {
		s.notify.Notify(ctx, notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: userID, Actor: viewer})
	}
	return nil
}

// UnfollowUser makes the viewer stop following a user.
func (s *Service) UnfollowUser(ctx context.Context, userID int) error {
	err := s.withUser(ctx, userID, func(ctx context.Context, tx *ent.Tx, viewer int) error {
		_, err := tx.Follow.Delete().Where(follow.UserID(userID), follow.FollowingID(viewer)).Exec(ctx)
		return err
	})
	return s.changed(ctx, err, loader.FollowerCountKey(userID), loader.FollowingCountKey(auth.FromContext(ctx).UserID))
}

func (s *Service) withUser(ctx context.Context, userID int, fn func(context.Context, *ent.Tx, int) error) error {
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return apperr.ErrUnauthenticated
	}
	return database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		if ok, err := tx.User.Query().Where(user.ID(userID)).Exist(ctx); err != nil {
			return err
		} else if !ok {
			return &apperr.Error{Kind: apperr.NotFound, Field: "userID", Message: "user not found"}
		}
		return fn(ctx, tx, v.UserID)
	})
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
