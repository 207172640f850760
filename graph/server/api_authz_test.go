package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/accounttoken"
	"github.com/agora/agora/ent/conversation"
	"github.com/agora/agora/ent/image"
	entpost "github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	entuser "github.com/agora/agora/ent/user"
	"github.com/agora/agora/graph/generated"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/testenv"
)

// The authorization matrix: every Query and Mutation field, and every field carrying an auth
// directive, has a row saying who may use it. Each row runs over HTTP as each kind of viewer; a
// denied call must fail (or, for a protected nullable field, answer null) and change nothing. A new
// operation without a row fails TestAuthorizationMatrix, so none ships unreviewed.

// matrixViewers are the matrix's columns, in the order of a row's allow string.
var matrixViewers = []string{"anonymous", "user", "other user", "moderator", "admin", "banned user"}

type matrixRow struct {
	allow string // one letter per viewer: A allowed, D denied
	query string
	// vars builds the operation's variables on fresh data owned by f.owner: the acting viewer for
	// "user" and "banned user", else the user (so "other user" acts on someone else's data).
	vars func(f *fixture) map[string]any
	// field, for a protected nullable field: allowed means the value at this JSON path is not null.
	field []string
	// endsSessions: the operation may end the viewer's sessions, so the cell runs on a fresh
	// sign-in and signs the viewer in again afterwards.
	endsSessions bool
	// trigger, for a subscription: causes one event after subscribing; allowed means the first
	// response carries it.
	trigger func(f *fixture, vars map[string]any)
	// send, when set, sends the operation instead of a JSON POST (an upload is multipart).
	send func(f *fixture, c testenv.GraphQL, vars map[string]any) testenv.Response
	// passes: an error with this code counts as allowed — the call got past authorization and
	// was refused on its input (direct uploads need S3 storage, which the matrix's server lacks).
	passes string
}

var matrix = map[string]matrixRow{
	"Query.viewer":      {allow: "AAAAAA", query: `{ viewer { id } }`},
	"Query.user":        {allow: "AAAAAA", query: `query($n: String!) { user(username: $n) { id } }`, vars: func(f *fixture) map[string]any { return map[string]any{"n": f.owner.Username} }},
	"Query.users":       {allow: "AAAAAA", query: `{ users(first: 5) { totalCount } }`},
	"Query.post":        {allow: "AAAAAA", query: `query($s: String!) { post(slug: $s) { id } }`, vars: func(f *fixture) map[string]any { return map[string]any{"s": f.post(true).Slug} }},
	"Query.posts":       {allow: "AAAAAA", query: `{ posts(first: 5) { totalCount } }`},
	"Query.tags":        {allow: "AAAAAA", query: `{ tags(first: 5) { totalCount } }`},
	"Query.node":        {allow: "AAAAAA", query: `query($id: ID!) { node(id: $id) { id } }`, vars: func(f *fixture) map[string]any { return map[string]any{"id": f.post(true).ID} }},
	"Query.nodes":       {allow: "AAAAAA", query: `query($id: ID!) { nodes(ids: [$id]) { id } }`, vars: func(f *fixture) map[string]any { return map[string]any{"id": f.owner.ID} }},
	"Query.feed":        {allow: "DAAAAA", query: `{ feed(first: 5) { totalCount } }`},
	"Query.search":      {allow: "AAAAAA", query: `{ search(query: "post", first: 5) { totalCount } }`},
	"Query.searchUsers": {allow: "AAAAAA", query: `{ searchUsers(query: "u", first: 5) { totalCount } }`},
	"Query.searchTags":  {allow: "AAAAAA", query: `{ searchTags(query: "t", first: 5) { totalCount } }`},
	"User.email":        {allow: "DADDAA", query: `query($n: String!) { user(username: $n) { email } }`, field: []string{"user", "email"}, vars: func(f *fixture) map[string]any { return map[string]any{"n": f.owner.Username} }},
	"User.bannedAt":     {allow: "DDDAAD", query: `query($n: String!) { user(username: $n) { bannedAt } }`, field: []string{"user", "bannedAt"}, vars: func(f *fixture) map[string]any { return map[string]any{"n": f.banned.Username} }},

	"Mutation.register": {allow: "AAAAAA", query: registerMutation, vars: func(f *fixture) map[string]any {
		n := f.unique("reg")
		return map[string]any{"in": map[string]any{"username": n, "email": n + "@example.com", "password": "long-enough"}}
	}},
	"Mutation.login": {allow: "AAAAAA", query: `mutation($n: String!) { login(input: {usernameOrEmail: $n, password: "password-una"}) { accessToken } }`,
		vars: func(f *fixture) map[string]any { return map[string]any{"n": "una"} }},
	"Mutation.updateProfile": {allow: "DAAAAD", query: `mutation { updateProfile(input: {bio: "changed"}) { user { bio } } }`},
	"Mutation.createPost":    {allow: "DAAAAD", query: createPostMutation, vars: func(*fixture) map[string]any { return map[string]any{"in": map[string]any{"title": "new"}} }},
	"Mutation.updatePost":    {allow: "DADDDD", query: `mutation($id: ID!) { updatePost(input: {id: $id, title: "changed"}) { post { id } } }`, vars: postID(true)},
	"Mutation.publishPost":   {allow: "DADDDD", query: `mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }`, vars: postID(false)},
	"Mutation.deletePost":    {allow: "DADAAD", query: `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`, vars: postID(true)},
	"Mutation.hidePost":      {allow: "DDDAAD", query: `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, vars: postID(true)},
	"Mutation.unhidePost": {allow: "DDDAAD", query: `mutation($id: ID!) { unhidePost(input: {id: $id}) { post { id } } }`, vars: func(f *fixture) map[string]any {
		p := f.post(true)
		f.allow(f.client.Post.UpdateOne(p).SetHiddenAt(time.Now().UTC()).Exec)
		return map[string]any{"id": p.ID}
	}},
	"Mutation.addComment": {allow: "DAAAAD", query: `mutation($id: ID!) { addComment(input: {postID: $id, body: "hi"}) { comment { id } } }`, vars: postID(true)},
	"Mutation.deleteComment": {allow: "DADAAD", query: `mutation($id: ID!) { deleteComment(input: {id: $id}) { deletedCommentID } }`, vars: func(f *fixture) map[string]any {
		return map[string]any{"id": f.comment(nil).ID}
	}},
	"Mutation.hideComment": {allow: "DDDAAD", query: `mutation($id: ID!) { hideComment(input: {id: $id}) { comment { id } } }`, vars: func(f *fixture) map[string]any {
		return map[string]any{"id": f.comment(nil).ID}
	}},
	"Mutation.unhideComment": {allow: "DDDAAD", query: `mutation($id: ID!) { unhideComment(input: {id: $id}) { comment { id } } }`, vars: func(f *fixture) map[string]any {
		hidden := time.Now().UTC()
		return map[string]any{"id": f.comment(&hidden).ID}
	}},
	"Mutation.likePost":     {allow: "DAAAAD", query: `mutation($id: ID!) { likePost(input: {postID: $id}) { post { likeCount } } }`, vars: postID(true)},
	"Mutation.unlikePost":   {allow: "DAAAAD", query: `mutation($id: ID!) { unlikePost(input: {postID: $id}) { post { likeCount } } }`, vars: postID(true)},
	"Mutation.followUser":   {allow: "DAAAAD", query: `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, vars: targetID},
	"Mutation.unfollowUser": {allow: "DAAAAD", query: `mutation($id: ID!) { unfollowUser(input: {userID: $id}) { user { id } } }`, vars: targetID},
	"Mutation.setUserRole":  {allow: "DDDDAD", query: `mutation($id: ID!) { setUserRole(input: {userID: $id, role: MODERATOR}) { user { role } } }`, vars: targetID},
	"Mutation.banUser":      {allow: "DDDDAD", query: `mutation($id: ID!) { banUser(input: {userID: $id}) { user { id } } }`, vars: targetID},
	"Mutation.unbanUser":    {allow: "DDDDAD", query: `mutation($id: ID!) { unbanUser(input: {userID: $id}) { user { id } } }`, vars: targetID},

	"User.sessions": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { sessions { id } } }`, field: []string{"user", "sessions"},
		vars: func(f *fixture) map[string]any { return map[string]any{"n": f.owner.Username} }},
	"Mutation.refreshSession": {allow: "AAAAAA", query: `mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken } }`,
		vars: func(f *fixture) map[string]any { return map[string]any{"t": f.signIn(f.owner).RefreshToken} }},
	"Mutation.revokeSession": {allow: "DADDDA", query: `mutation($id: ID!) { revokeSession(input: {id: $id}) { sessionID } }`,
		vars: func(f *fixture) map[string]any { return map[string]any{"id": f.sessionOf(f.signIn(f.owner))} }},
	"Query._service": {allow: "AAAAAA", query: `{ _service { sdl } }`},
	"Query._entities": {allow: "AAAAAA", query: `query($r: [_Any!]!) { _entities(representations: $r) { ... on Post { id } } }`,
		vars: func(f *fixture) map[string]any {
			return map[string]any{"r": []any{map[string]any{"__typename": "Post", "id": f.post(true).ID}}}
		}},
	"Query.conversations":          {allow: "DAAAAA", query: `{ conversations(first: 5) { totalCount } }`},
	"User.notifications":           {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { notifications(first: 5) { totalCount } } }`, field: []string{"user", "notifications"}, vars: ownerName},
	"User.unreadNotificationCount": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { unreadNotificationCount } }`, field: []string{"user", "unreadNotificationCount"}, vars: ownerName},
	"Mutation.sendMessage": {allow: "DAAAAD", query: `mutation($id: ID!) { sendMessage(input: {recipientID: $id, body: "hi"}) { message { id } } }`,
		// To the actor: the target may be banned by another cell, and nobody messages a banned user.
		vars: func(f *fixture) map[string]any { return map[string]any{"id": f.actor.ID} }},
	"Mutation.markNotificationsRead": {allow: "DAAAAA", query: `mutation { markNotificationsRead(input: {}) { count } }`},
	"Mutation.setMessagePolicy":      {allow: "DAAAAD", query: `mutation { setMessagePolicy(input: {policy: EVERYONE}) { user { id } } }`},
	"User.messagePolicy":             {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { messagePolicy } }`, field: []string{"user", "messagePolicy"}, vars: ownerName},
	"Subscription.notificationAdded": {allow: "DAAAAA", query: `subscription { notificationAdded { kind } }`,
		trigger: func(f *fixture, _ map[string]any) {
			if f.viewer.ID != "" { // the target follows the viewer
				f.a.as(f.actor).Do(f.t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": f.viewer.ID}, nil)
			}
		}},
	"Subscription.messageAdded": {allow: "DADDDA", query: `subscription($id: ID!) { messageAdded(conversationID: $id) { body } }`,
		vars:    func(f *fixture) map[string]any { return map[string]any{"id": f.message(f.actor, f.owner)} },
		trigger: func(f *fixture, _ map[string]any) { f.message(f.actor, f.owner) }},
	"Subscription.commentAdded": {allow: "AAAAAA", query: `subscription($id: ID!) { commentAdded(postID: $id) { body } }`, vars: postID(true),
		trigger: func(f *fixture, vars map[string]any) {
			f.a.as(f.actor).Do(f.t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "event"}) { comment { id } } }`, vars, nil)
		}},

	"Mutation.logout":    {allow: "DAAAAA", query: `mutation { logout { sessionID } }`, endsSessions: true},
	"Mutation.logoutAll": {allow: "DAAAAA", query: `mutation { logoutAll { revokedSessionCount } }`, endsSessions: true},
	"Mutation.uploadImage": {allow: "DAAAAD", query: `mutation($in: UploadImageInput!) { uploadImage(input: $in) { image { id } } }`,
		send: func(f *fixture, c testenv.GraphQL, _ map[string]any) testenv.Response {
			return c.Upload(f.t, `mutation($in: UploadImageInput!) { uploadImage(input: $in) { image { id } } }`,
				map[string]any{"in": map[string]any{"file": nil, "purpose": "AVATAR"}}, "variables.in.file", "a.png", testPNG(f.t, 80, 60))
		}},
	"Mutation.createImageUpload": {allow: "DAAAAD", passes: "BAD_USER_INPUT",
		query: `mutation { createImageUpload(input: {size: 1000, purpose: AVATAR}) { uploadID } }`},
	"Mutation.completeImageUpload": {allow: "DAAAAD", passes: "BAD_USER_INPUT",
		query: `mutation { completeImageUpload(input: {uploadID: "not.signed"}) { image { id } } }`},
	"Mutation.hideImage": {allow: "DDDAAD", query: `mutation($id: ID!) { hideImage(input: {id: $id}) { image { id } } }`,
		vars: func(f *fixture) map[string]any { return map[string]any{"id": f.image().ID} }},
	"Query.image": {allow: "AAAAAA", query: `query($id: ID!) { image(id: $id) { id } }`, field: []string{"image"},
		vars: func(f *fixture) map[string]any { return map[string]any{"id": f.image().ID} }},
	"User.imageStorage": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { imageStorage { usedBytes limitBytes } } }`,
		field: []string{"user", "imageStorage"}, vars: ownerName},
	"Mutation.changePassword": {allow: "DAAAAA", endsSessions: true,
		query: `mutation($p: String!) { changePassword(input: {currentPassword: $p, newPassword: $p}) { revokedSessionCount } }`,
		vars:  func(f *fixture) map[string]any { return map[string]any{"p": "password-" + f.viewer.Username} }},

	// Account mail. Tokens are stored as internal/account stores them: the SHA-256 of the token, hex.
	"User.emailVerified": {allow: "DADDAA", query: `query($n: String!) { user(username: $n) { emailVerified } }`, field: []string{"user", "emailVerified"}, vars: ownerName},
	"Mutation.verifyEmail": {allow: "AAAAAA", query: `mutation($t: String!) { verifyEmail(input: {token: $t}) { email } }`,
		vars: func(f *fixture) map[string]any {
			return map[string]any{"t": f.accountToken(accounttoken.PurposeVERIFY_EMAIL, f.owner)}
		}},
	"Mutation.resendVerificationEmail": {allow: "DAAAAA", query: `mutation { resendVerificationEmail { sent } }`},
	"Mutation.changeEmail": {allow: "DAAAAA", query: `mutation($e: String!, $p: String) { changeEmail(input: {newEmail: $e, currentPassword: $p}) { user { id } } }`,
		vars: func(f *fixture) map[string]any {
			return map[string]any{"e": f.unique("changed") + "@example.com", "p": "password-" + f.viewer.Username}
		}},
	"Mutation.requestPasswordReset": {allow: "AAAAAA", query: `mutation($e: String!) { requestPasswordReset(input: {email: $e}) { accepted } }`,
		vars: func(f *fixture) map[string]any { return map[string]any{"e": f.owner.Username + "@example.com"} }},
	// The token is the proof, whoever sends it; a user of its own, as a reset ends all their sessions.
	"Mutation.resetPassword": {allow: "AAAAAA", query: `mutation($t: String!) { resetPassword(input: {token: $t, newPassword: "a new password"}) { revokedSessionCount } }`,
		vars: func(f *fixture) map[string]any {
			u := testenv.NewUser(f.t, f.client, f.unique("reset"), "")
			return map[string]any{"t": f.accountToken(accounttoken.PurposeRESET_PASSWORD, user{ID: strconv.Itoa(u.ID), Username: u.Username})}
		}},

	"User.notificationSettings": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { notificationSettings { newComment } } }`,
		field: []string{"user", "notificationSettings"}, vars: ownerName},
	"Mutation.updateNotificationSettings": {allow: "DAAAAA", query: `mutation { updateNotificationSettings(input: {postLiked: DAILY}) { settings { postLiked } } }`},

	// The job queue: a clean-up scheduled for tomorrow, so it waits for the operation.
	"Query.jobs":         {allow: "DDDDAD", query: `{ jobs(first: 5) { jobs { id kind } } }`},
	"Mutation.retryJob":  {allow: "DDDDAD", query: `mutation($id: ID!) { retryJob(input: {id: $id}) { job { state } } }`, vars: laterJob},
	"Mutation.cancelJob": {allow: "DDDDAD", query: `mutation($id: ID!) { cancelJob(input: {id: $id}) { job { state } } }`, vars: laterJob},

	// Sign-in through providers: the matrix's server has a GitHub provider no cell reaches (testConfig).
	"Query.providers":  {allow: "AAAAAA", query: `{ providers { name } }`},
	"User.identities":  {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { identities { provider } } }`, field: []string{"user", "identities"}, vars: ownerName},
	"User.hasPassword": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { hasPassword } }`, field: []string{"user", "hasPassword"}, vars: ownerName},
	"Mutation.startSignIn": {allow: "AAAAAA", query: `mutation($r: String!) { startSignIn(input: {provider: "github", redirectURI: $r}) { authorizationURL } }`,
		vars: func(*fixture) map[string]any { return map[string]any{"r": matrixRedirect} }},
	"Mutation.linkIdentity": {allow: "DAAAAA", query: `mutation($r: String!) { linkIdentity(input: {provider: "github", redirectURI: $r}) { authorizationURL } }`,
		vars: func(*fixture) map[string]any { return map[string]any{"r": matrixRedirect} }},
	// The ticket a callback would hand out, for the owner: a banned owner gets no session.
	"Mutation.completeSignIn": {allow: "AAAAAD", query: `mutation($t: String!) { completeSignIn(input: {ticket: $t}) { accessToken } }`,
		vars: func(f *fixture) map[string]any {
			t, id := f.unique("ticket"), f.owner.ID
			uid, _ := strconv.Atoi(id)
			sum := sha256.Sum256([]byte("ticket:" + t)) // as internal/identity stores tickets
			f.allow(f.client.SignInFlow.Create().SetKeyHash(hex.EncodeToString(sum[:])).SetProvider("github").SetRedirectURI(matrixRedirect).
				SetUserID(uid).SetExpiresAt(time.Now().Add(time.Minute)).Exec)
			return map[string]any{"t": t}
		}},
	// A confirmation mailed to the owner: the token is the proof, whoever sends it.
	"Mutation.confirmIdentityLink": {allow: "AAAAAA", query: `mutation($t: String!) { confirmIdentityLink(input: {token: $t}) { provider } }`,
		vars: func(f *fixture) map[string]any {
			t := f.unique("confirm")
			uid, _ := strconv.Atoi(f.owner.ID)
			sum := sha256.Sum256([]byte("confirm:" + t)) // as internal/identity stores confirmation tokens
			f.allow(f.client.SignInFlow.Create().SetKeyHash(hex.EncodeToString(sum[:])).SetProvider("github").SetRedirectURI(matrixRedirect).
				SetLinkUserID(uid).SetSubject(f.unique("sub")).SetEmail(f.owner.Username + "@example.com").SetExpiresAt(time.Now().Add(time.Minute)).Exec)
			return map[string]any{"t": t}
		}},
	// The viewer's own identity (each viewer has a password, so it is not their last way in).
	"Mutation.unlinkIdentity": {allow: "DAAAAA", query: `mutation { unlinkIdentity(input: {provider: "github"}) { user { id } } }`,
		vars: func(f *fixture) map[string]any {
			if uid, _ := strconv.Atoi(f.viewer.ID); uid != 0 {
				f.allow(f.client.Identity.Create().SetUserID(uid).SetProvider("github").SetSubject(f.unique("sub")).Exec)
			}
			return nil
		}},
	// The viewer's account without a password; setPassword gives it back the one it had.
	"Mutation.setPassword": {allow: "DAAAAA", query: `mutation($p: String!) { setPassword(input: {newPassword: $p}) { user { id } } }`,
		vars: func(f *fixture) map[string]any {
			if uid, _ := strconv.Atoi(f.viewer.ID); uid != 0 {
				f.allow(f.client.User.UpdateOneID(uid).SetPasswordHash("").Exec)
			}
			return map[string]any{"p": "password-" + f.viewer.Username}
		}},
	// Memberships (internal/billing): the matrix's server has no Stripe, so a call that gets past
	// authorization ends in FEATURE_DISABLED; api_billing_test.go runs them against stripe-mock.
	"User.memberCount": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { memberCount } }`, field: []string{"user", "memberCount"}, vars: ownerName},
	"User.memberships": {allow: "DADDDA", query: `query($n: String!) { user(username: $n) { memberships { status } } }`, field: []string{"user", "memberships"}, vars: ownerName},
	"Mutation.setMembershipPlan": {allow: "DAAAAD", query: `mutation { setMembershipPlan(input: {monthlyPrice: 500, currency: "usd"}) { plan { monthlyPrice } } }`,
		passes: "FEATURE_DISABLED"},
	"Mutation.startMembershipCheckout": {allow: "DAAAAA", query: `mutation($a: ID!) { startMembershipCheckout(input: {authorID: $a, returnURL: "http://localhost:3000/"}) { url } }`,
		vars: func(f *fixture) map[string]any { return map[string]any{"a": f.target.ID} }, passes: "FEATURE_DISABLED"},
	"Mutation.openBillingPortal": {allow: "DAAAAA", query: `mutation { openBillingPortal(input: {returnURL: "http://localhost:3000/"}) { url } }`,
		passes: "FEATURE_DISABLED"},
	// A MEMBERS post's body: its author and moderators (members: TestMembersOnlyPosts).
	"Post.body": {allow: "DADAAA", query: `query($s: String!) { post(slug: $s) { body } }`, field: []string{"post", "body"},
		vars: func(f *fixture) map[string]any {
			p := f.post(true)
			f.allow(f.client.Post.UpdateOne(p).SetBody("for members").SetVisibility(entpost.VisibilityMEMBERS).Exec)
			return map[string]any{"s": p.Slug}
		}},
}

// resolverGated are the fields whose resolver, not a directive, decides who reads them: they
// need rows too.
var resolverGated = []string{"Post.body"}

// matrixRedirect is the client page the matrix's sign-ins return to.
const matrixRedirect = "http://localhost:3000/signed-in"

func postID(published bool) func(*fixture) map[string]any {
	return func(f *fixture) map[string]any { return map[string]any{"id": f.post(published).ID} }
}

func targetID(f *fixture) map[string]any { return map[string]any{"id": f.target.ID} }

func ownerName(f *fixture) map[string]any { return map[string]any{"n": f.owner.Username} }

// laterJob inserts a job due tomorrow and returns its ID as the variable id.
func laterJob(f *fixture) map[string]any {
	f.t.Helper()
	return map[string]any{"id": scheduleJob(f.t, f.a, time.Now().Add(24*time.Hour))}
}

// message writes a direct message from one user to another directly through ent, as sendMessage
// would (the conversation of the pair, the message, its live event), and returns the conversation's
// ID. Not through sendMessage: that refuses to message a banned user, whose conversations the
// matrix still reads.
func (f *fixture) message(from, to user) string {
	f.t.Helper()
	a, _ := strconv.Atoi(from.ID)
	b, _ := strconv.Atoi(to.ID)
	pair := fmt.Sprintf("%d:%d", min(a, b), max(a, b)) // as internal/message names a pair
	var c *ent.Conversation
	f.allow(func(ctx context.Context) (err error) {
		c, err = f.client.Conversation.Query().Where(conversation.Pair(pair)).Only(ctx)
		if ent.IsNotFound(err) {
			c, err = f.client.Conversation.Create().SetPair(pair).AddParticipantIDs(a, b).Save(ctx)
		}
		if err != nil {
			return err
		}
		m, err := f.client.Message.Create().SetConversationID(c.ID).SetSenderID(a).SetBody("fixture").Save(ctx)
		if err == nil {
			f.a.live.MessageAdded(ctx, c.ID, m.ID)
		}
		return err
	})
	return strconv.Itoa(c.ID)
}

// fixture makes fresh rows for one matrix cell, directly through ent (bypassing the rules under test).
type fixture struct {
	t              *testing.T
	a              *api
	client         *ent.Client
	viewer, owner  user
	target, banned user // a bystander to follow, role and ban; a banned user
	actor          user // someone whose writes trigger events, whatever other rows do
	seq            *atomic.Int64
}

func (f *fixture) allow(exec func(context.Context) error) {
	f.t.Helper()
	if err := exec(privacy.DecisionContext(context.Background(), privacy.Allow)); err != nil {
		f.t.Fatal(err)
	}
}

// signIn opens a new session for u, as login does.
func (f *fixture) signIn(u user) *account.Session {
	f.t.Helper()
	s, err := f.a.accounts.Login(context.Background(), account.LoginInput{UsernameOrEmail: u.Username, Password: "password-" + u.Username})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// sessionOf returns the ID of the session an access token belongs to.
func (f *fixture) sessionOf(s *account.Session) int {
	f.t.Helper()
	var out struct {
		Viewer struct {
			Sessions []struct {
				ID      string
				Current bool
			}
		}
	}
	f.a.As(s.AccessToken).Do(f.t, `{ viewer { sessions { id current } } }`, nil, &out)
	for _, sess := range out.Viewer.Sessions {
		if sess.Current {
			id, _ := strconv.Atoi(sess.ID)
			return id
		}
	}
	f.t.Fatal("no current session")
	return 0
}

// accountToken stores a live token of purpose for u's address, as internal/account does, and
// returns it.
func (f *fixture) accountToken(purpose accounttoken.Purpose, u user) string {
	t := f.unique("token")
	uid, _ := strconv.Atoi(u.ID)
	email, err := f.client.User.Query().Where(entuser.ID(uid)).Select(entuser.FieldEmail).String(testenv.System)
	if err != nil {
		f.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(t))
	f.allow(f.client.AccountToken.Create().SetPurpose(purpose).SetHash(hex.EncodeToString(sum[:])).SetUserID(uid).
		SetEmail(email).SetExpiresAt(time.Now().Add(time.Minute)).Exec)
	return t
}

func (f *fixture) unique(prefix string) string { return prefix + strconv.FormatInt(f.seq.Add(1), 10) }

func (f *fixture) post(published bool) *ent.Post {
	f.t.Helper()
	owner, _ := strconv.Atoi(f.owner.ID)
	c := f.client.Post.Create().SetAuthorID(owner).SetTitle("fixture").SetSlug(f.unique("fixture-"))
	if published {
		c.SetStatus(entpost.StatusPUBLISHED).SetPublishedAt(time.Now().UTC())
	}
	var p *ent.Post
	f.allow(func(ctx context.Context) (err error) { p, err = c.Save(ctx); return err })
	return p
}

// image is an avatar in use, owned by f.owner: a row only (the matrix reads no files).
func (f *fixture) image() *ent.Image {
	f.t.Helper()
	owner, _ := strconv.Atoi(f.owner.ID)
	c := f.client.Image.Create().SetOwnerID(owner).SetPurpose(image.PurposeAVATAR).SetKey(f.unique("images/fixture")).SetFormat("jpeg").
		SetWidth(10).SetHeight(10).SetSizes([]int{10}).SetBytes(100).SetColor("#000000").SetAttachedAt(time.Now().UTC())
	var out *ent.Image
	f.allow(func(ctx context.Context) (err error) { out, err = c.Save(ctx); return err })
	return out
}

func (f *fixture) comment(hiddenAt *time.Time) *ent.Comment {
	f.t.Helper()
	owner, _ := strconv.Atoi(f.owner.ID)
	c := f.client.Comment.Create().SetAuthorID(owner).SetPostID(f.post(true).ID).SetBody("fixture").SetNillableHiddenAt(hiddenAt)
	var out *ent.Comment
	f.allow(func(ctx context.Context) (err error) { out, err = c.Save(ctx); return err })
	return out
}

// operations lists what the matrix must cover, from the served schema itself.
func operations() map[string]bool {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	ops := map[string]bool{}
	for _, def := range schema.Types {
		for _, f := range def.Fields {
			protected := f.Directives.ForName("authenticated") != nil || f.Directives.ForName("requiresScopes") != nil ||
				f.Directives.ForName("policy") != nil
			root := (def.Name == "Query" || def.Name == "Mutation" || def.Name == "Subscription") && !strings.HasPrefix(f.Name, "__")
			if root || protected {
				ops[def.Name+"."+f.Name] = true
			}
		}
		if def.Kind == ast.Object && (def.Directives.ForName("authenticated") != nil || def.Directives.ForName("requiresScopes") != nil || def.Directives.ForName("policy") != nil) {
			ops[def.Name] = true
		}
	}
	for _, op := range resolverGated {
		ops[op] = true
	}
	return ops
}

func TestAuthorizationMatrix(t *testing.T) {
	ops := operations()
	for op := range ops {
		if _, ok := matrix[op]; !ok {
			t.Errorf("%s has no row in the authorization matrix (api_authz_test.go): decide who may use it", op)
		}
	}
	for op, row := range matrix {
		if !ops[op] {
			t.Errorf("matrix row %s names no operation of the schema", op)
		}
		if len(row.allow) != len(matrixViewers) {
			t.Errorf("matrix row %s: allow %q needs one letter per viewer %v", op, row.allow, matrixViewers)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("authorization matrix: %d operations × %d viewers", len(matrix), len(matrixViewers))

	eachDB(t, func(t *testing.T, a *api) {
		una, otto, mona, adam, bert, tina := a.register(t, "una"), a.register(t, "otto"), a.register(t, "mona"),
			a.register(t, "adam"), a.register(t, "bert"), a.register(t, "tina")
		ivan := a.register(t, "ivan")
		a.setRole(t, mona, "MODERATOR")
		a.setRole(t, adam, "ADMIN")
		bertID, _ := strconv.Atoi(bert.ID)
		(&fixture{t: t}).allow(a.db.Client.User.UpdateOneID(bertID).SetBannedAt(time.Now().UTC()).Exec)
		viewers := []user{{}, una, otto, mona, adam, bert}
		seq := &atomic.Int64{}

		for op, row := range matrix {
			for i, name := range matrixViewers {
				t.Run(op+"/"+name, func(t *testing.T) {
					v := viewers[i]
					if row.endsSessions && v.Token != "" {
						v.Token = (&fixture{t: t, a: a}).signIn(v).AccessToken
						defer func() { viewers[i].Token = (&fixture{t: t, a: a}).signIn(v).AccessToken }()
					}
					f := &fixture{t: t, a: a, client: a.db.Client, viewer: v, owner: una, target: tina, banned: bert, actor: ivan, seq: seq}
					if name == "user" || name == "banned user" {
						f.owner = v
					}
					var vars map[string]any
					if row.vars != nil {
						vars = row.vars(f)
					}
					if row.trigger != nil {
						stream := a.subscribe(t, a.As(v.Token), testenv.TransportWS, row.query, vars)
						row.trigger(f, vars)
						r, ok := stream.Next(t, wait)
						if allowed, want := ok && len(r.Errors) == 0, row.allow[i] == 'A'; allowed != want {
							t.Fatalf("%s as %s: allowed %t, want %t (errors %+v, data %s)", op, name, allowed, want, r.Errors, r.Data)
						}
						if !ok || len(r.Errors) > 0 && (r.Errors[0].Code() == "INTERNAL_SERVER_ERROR" || r.Errors[0].Code() == "") {
							t.Fatalf("%s as %s: denied without a clear code: %+v (stream ended: %v)", op, name, r.Errors, stream.Err())
						}
						return
					}
					before := a.fingerprint(t)
					var r testenv.Response
					if row.send != nil {
						r = row.send(f, a.As(v.Token), vars)
					} else {
						r = a.As(v.Token).Post(t, row.query, vars)
					}
					allowed := len(r.Errors) == 0 || row.passes != "" && len(r.Errors) == 1 && r.Errors[0].Code() == row.passes
					if row.field != nil {
						if !allowed {
							t.Fatalf("protected field answered with errors %+v; want a value or null", r.Errors)
						}
						allowed = !isNull(r.Data, row.field)
					}
					want := row.allow[i] == 'A'
					if allowed != want {
						t.Fatalf("%s as %s: allowed %t, want %t (errors %+v, data %s)", op, name, allowed, want, r.Errors, r.Data)
					}
					if !want && row.field == nil {
						if code := r.Errors[0].Code(); code == "INTERNAL_SERVER_ERROR" || code == "" {
							t.Fatalf("denied with code %q: %+v", code, r.Errors)
						}
						if after := a.fingerprint(t); after != before {
							t.Fatalf("a denied %s changed the database:\nbefore %s\nafter  %s", op, before, after)
						}
					}
				})
			}
		}
	})
}

func isNull(data json.RawMessage, path []string) bool {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return true
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return true
		}
		v = m[k]
	}
	return v == nil
}

// fingerprint summarizes everything a mutation could change, to prove a denied one changed nothing.
func (a *api) fingerprint(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT COUNT(*) FROM users", "SELECT COUNT(*) FROM users WHERE banned_at IS NOT NULL",
		"SELECT COUNT(*) FROM users WHERE role <> 'USER'", "SELECT COUNT(*) FROM users WHERE bio <> ''",
		"SELECT COUNT(*) FROM posts", "SELECT COUNT(*) FROM posts WHERE status = 'PUBLISHED'",
		"SELECT COUNT(*) FROM posts WHERE hidden_at IS NOT NULL", "SELECT COUNT(*) FROM posts WHERE title <> 'fixture'",
		"SELECT COUNT(*) FROM comments", "SELECT COUNT(*) FROM comments WHERE hidden_at IS NOT NULL",
		"SELECT COUNT(*) FROM likes", "SELECT COUNT(*) FROM follows", "SELECT COUNT(*) FROM tags",
		"SELECT COUNT(*) FROM images", "SELECT COUNT(*) FROM images WHERE hidden_at IS NOT NULL",
	} {
		var n int
		if err := a.db.SQL.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d ", n)
	}
	return b.String()
}

// TestRulesInFragments: a field's rule holds however the operation reaches the field — through
// fragment spreads and inline fragments — since field middleware is installed per operation,
// only in operations that select a field carrying a rule.
func TestRulesInFragments(t *testing.T) {
	a := newAPI(t, "postgres")
	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	a.createPost(t, ada, map[string]any{"title": "Hello", "publish": true})
	const query = `query { posts(first: 1) { edges { node { author { ...A } } } } }
	  fragment A on User { ... on User { ...B } }
	  fragment B on User { username email }`
	email := func(c testenv.GraphQL) any {
		t.Helper()
		r := c.Post(t, query, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%+v", r.Errors)
		}
		var out struct {
			Posts struct {
				Edges []struct {
					Node struct{ Author map[string]any }
				}
			}
		}
		if err := json.Unmarshal(r.Data, &out); err != nil || len(out.Posts.Edges) != 1 {
			t.Fatalf("%s: %v", r.Data, err)
		}
		return out.Posts.Edges[0].Node.Author["email"]
	}
	if got := email(a.GraphQL); got != nil {
		t.Fatalf("signed out, ada's email through fragments: %v", got)
	}
	if got := email(a.as(bob)); got != nil {
		t.Fatalf("bob, ada's email through fragments: %v", got)
	}
	if got := email(a.as(ada)); got != "ada@example.com" {
		t.Fatalf("ada, her own email through fragments: %v", got)
	}
}
