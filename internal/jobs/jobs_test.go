package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/accounttoken"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/refreshtoken"
	"github.com/agora/agora/ent/session"
	"github.com/agora/agora/ent/signinflow"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// echoArgs is a job that tells the test it ran.
type echoArgs struct {
	Name string `json:"name"`
}

func (echoArgs) Kind() string { return "test_echo" }

// start opens and starts a working queue on db whose test_echo jobs send their name to ran.
func start(t *testing.T, db *database.DB, ran chan<- string) *jobs.Queue {
	t.Helper()
	q := testenv.NewQueue(db)
	jobs.AddWorker(q, river.WorkFunc(func(ctx context.Context, job *river.Job[echoArgs]) error {
		ran <- job.Args.Name
		return nil
	}))
	testenv.StartQueue(t, q)
	return q
}

func allJobs(t *testing.T, q *jobs.Queue, kind string) []*rivertype.JobRow {
	t.Helper()
	res, err := q.Client().JobList(context.Background(), river.NewJobListParams().Kinds(kind).States(rivertype.JobStates()...))
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

// TestInsertInTransaction: a job inserted with a write that commits exists and runs; one inserted
// with a write that rolls back never existed, and neither did the write.
func TestInsertInTransaction(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ran := make(chan string, 4)
		q := start(t, db, ran)
		ctx := testenv.System
		write := func(name string, fail error) error {
			return database.InTx(ctx, db.Client, func(ctx context.Context, tx *ent.Tx) error {
				testenv.NewUser(t, tx.Client(), name, "")
				if err := q.Insert(ctx, echoArgs{Name: name}, nil); err != nil {
					return err
				}
				return fail
			})
		}
		if err := write("kept", nil); err != nil {
			t.Fatal(err)
		}
		rollback := errors.New("rolled back")
		if err := write("lost", rollback); !errors.Is(err, rollback) {
			t.Fatalf("write: %v", err)
		}
		if got := <-ran; got != "kept" {
			t.Fatalf("ran %q, want kept", got)
		}
		list := allJobs(t, q, echoArgs{}.Kind())
		if len(list) != 1 {
			t.Fatalf("%d jobs, want the committed one only", len(list))
		}
		if n := db.Client.User.Query().Where(user.Username("lost")).CountX(ctx); n != 0 {
			t.Fatal("the rolled-back write is there")
		}
		// Outside a transaction, Insert commits at once.
		if err := q.Insert(ctx, echoArgs{Name: "alone"}, nil); err != nil {
			t.Fatal(err)
		}
		if got := <-ran; got != "alone" {
			t.Fatalf("ran %q, want alone", got)
		}
	})
}

// TestInsertForeignTransaction: a transaction InTx did not open has no known *sql.Tx, so Insert
// refuses rather than commit the job on its own.
func TestInsertForeignTransaction(t *testing.T) {
	db := testenv.OpenDatabase(t, dialect.SQLite)
	q := jobs.New(db, jobs.Options{})
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Client.Tx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := q.Insert(ent.NewTxContext(context.Background(), tx), echoArgs{Name: "x"}, nil); err == nil {
		t.Fatal("Insert in a foreign transaction succeeded")
	}
}

// TestUnique: a job inserted twice with unique options by args is one job.
func TestUnique(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		q := jobs.New(db, jobs.Options{})
		jobs.AddWorker(q, river.WorkFunc(func(context.Context, *river.Job[echoArgs]) error { return nil }))
		if err := q.Open(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			err := database.InTx(context.Background(), db.Client, func(ctx context.Context, _ *ent.Tx) error {
				return q.Insert(ctx, echoArgs{Name: "once"}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := len(allJobs(t, q, echoArgs{}.Kind())); n != 1 {
			t.Fatalf("%d jobs, want 1", n)
		}
	})
}

// killArgs is the job of the kill test: its effect is a user named Name, written once.
type killArgs struct {
	Name string `json:"name"`
}

func (killArgs) Kind() string { return "test_kill" }

// Environment of the kill test's child processes.
const (
	envChild    = "AGORA_JOBS_TEST_CHILD" // hang: take the job and never finish; work: finish it
	envDatabase = "AGORA_JOBS_TEST_DATABASE"
	envDialect  = "AGORA_JOBS_TEST_DIALECT"
)

// TestKilledWorker: a worker process killed in the middle of a job loses nothing. The first child
// takes the job and hangs; it is killed with SIGKILL. The second child, once it is the leader,
// rescues the job, runs it to completion (its effect written once, in the transaction that
// completes the job) and stops gracefully on SIGTERM.
func TestKilledWorker(t *testing.T) {
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "kill.db")}
			target := o.SQLitePath
			if d == dialect.Postgres {
				o = database.Options{PostgresURL: testenv.PostgresURL(t)}
				target = o.PostgresURL
			}
			ctx := context.Background()
			db, err := database.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			q := jobs.New(db, jobs.Options{}) // inserts only
			jobs.AddWorker(q, river.WorkFunc(func(context.Context, *river.Job[killArgs]) error { return nil }))
			if err := q.Open(); err != nil {
				t.Fatal(err)
			}
			res, err := q.Client().Insert(ctx, killArgs{Name: "survivor"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			id := res.Job.ID
			state := func() *rivertype.JobRow {
				job, err := q.Client().JobGet(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return job
			}
			waitFor := func(what string, ok func(*rivertype.JobRow) bool) {
				deadline := time.Now().Add(2 * time.Minute)
				for job := state(); !ok(job); job = state() {
					if time.Now().After(deadline) {
						t.Fatalf("waited 2m for %s: job is %s, attempt %d, errors %v", what, job.State, job.Attempt, job.Errors)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}

			hang := child(t, "hang", d, target)
			waitFor("the first worker to take the job", func(j *rivertype.JobRow) bool { return j.State == rivertype.JobStateRunning })
			if err := hang.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = hang.Wait()

			work := child(t, "work", d, target)
			waitFor("the job to be rescued and completed", func(j *rivertype.JobRow) bool { return j.State == rivertype.JobStateCompleted })
			if err := work.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := work.Wait(); err != nil {
				t.Fatalf("the second worker did not stop cleanly on SIGTERM: %v", err)
			}
			if job := state(); job.Attempt != 2 {
				t.Errorf("completed at attempt %d, want 2 (the killed one, then the rescue)", job.Attempt)
			}
			if n := db.Client.User.Query().Where(user.Username("survivor")).CountX(testenv.System); n != 1 {
				t.Errorf("%d users written by the job, want 1", n)
			}
		})
	}
}

// child starts this test binary as a worker process of the kill test.
func child(t *testing.T, role, d, target string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+role, envDialect+"="+d, envDatabase+"="+target)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestKillChild is the worker process of TestKilledWorker; it does nothing in a normal run.
func TestKillChild(t *testing.T) {
	role := os.Getenv(envChild)
	if role == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	o := database.Options{SQLitePath: os.Getenv(envDatabase)}
	if os.Getenv(envDialect) == dialect.Postgres {
		o = database.Options{PostgresURL: os.Getenv(envDatabase)}
	}
	db, err := database.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The second worker takes a job running for over a second for lost (the first must not: it
	// would rescue its own hung job).
	o2 := jobs.Options{Work: true, PollInterval: 100 * time.Millisecond}
	if role == "work" {
		o2.Timeout, o2.RescueAfter = 500*time.Millisecond, time.Second
	}
	q := jobs.New(db, o2)
	jobs.AddWorker(q, river.WorkFunc(func(ctx context.Context, job *river.Job[killArgs]) error {
		if role == "hang" {
			select {} // until killed, whatever its context says
		}
		return jobs.Complete(ctx, db.Client, job, func(ctx context.Context) error {
			_, err := ent.FromContext(ctx).User.Create().SetUsername(job.Args.Name).SetEmail(job.Args.Name + "@example.com").
				SetPasswordHash("x").SetDisplayName(job.Args.Name).Save(testenv.System)
			return err
		})
	}))
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
		os.Exit(1)
	}
}

// TestCleanup: the clean-up removes sessions expired or revoked over a day ago with their refresh
// tokens, expired account links, expired sign-in flows and notifications read before the retention; nothing live: not a session still valid
// or ended within the day, not an unread notification however old, not one read recently.
func TestCleanup(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ctx := testenv.System
		q := testenv.NewQueue(db)
		q.AddCleanup(db.Client, time.Hour, jobs.Retention{ReadNotifications: 30 * 24 * time.Hour})
		ada, bob := testenv.NewUser(t, db.Client, "ada", ""), testenv.NewUser(t, db.Client, "bob", "")
		now := time.Now().UTC()
		ago := func(d time.Duration) time.Time { return now.Add(-d) }
		sessions := map[string]int{}
		for name, s := range map[string]struct {
			expires time.Time
			revoked *time.Time
		}{
			"live":                 {expires: now.Add(time.Hour)},
			"expired long ago":     {expires: ago(48 * time.Hour)},
			"expired within a day": {expires: ago(time.Hour)},
			"revoked long ago":     {expires: now.Add(time.Hour), revoked: new(ago(48 * time.Hour))},
			"revoked within a day": {expires: now.Add(time.Hour), revoked: new(ago(time.Hour))},
		} {
			sess := db.Client.Session.Create().SetUserID(ada.ID).SetExpiresAt(s.expires).SetNillableRevokedAt(s.revoked).SaveX(ctx)
			db.Client.RefreshToken.Create().SetSessionID(sess.ID).SetHash(name).ExecX(ctx)
			sessions[name] = sess.ID
		}
		notices := map[string]int{}
		for name, readAt := range map[string]*time.Time{"unread, old": nil, "read long ago": new(ago(40 * 24 * time.Hour)), "read recently": new(ago(time.Hour))} {
			n := db.Client.Notification.Create().SetKind(notification.KindNEW_FOLLOWER).SetRecipientID(ada.ID).SetActorID(bob.ID).
				SetCreatedAt(ago(60 * 24 * time.Hour)).SetNillableReadAt(readAt).SaveX(ctx)
			notices[name] = n.ID
		}
		tokens := map[string]int{}
		for name, expires := range map[string]time.Time{"link expired": ago(time.Minute), "link live": now.Add(time.Hour)} {
			tok := db.Client.AccountToken.Create().SetPurpose(accounttoken.PurposeRESET_PASSWORD).SetHash(name).SetUserID(ada.ID).
				SetEmail(ada.Email).SetExpiresAt(expires).SaveX(ctx)
			tokens[name] = tok.ID
		}
		flows := cleanupFlows(t, db.Client)
		testenv.StartQueue(t, q) // the clean-up runs at start, once this process is River's leader
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			done := allJobs(t, q, jobs.CleanupArgs{}.Kind())
			if len(done) > 0 && done[0].State == rivertype.JobStateCompleted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no clean-up completed in a minute: %+v", done)
			}
		}
		for name, id := range sessions {
			gone := strings.HasSuffix(name, "long ago")
			if exists := db.Client.Session.Query().Where(session.ID(id)).ExistX(ctx); exists == gone {
				t.Errorf("session %s: exists %t", name, exists)
			}
			if tokens := db.Client.RefreshToken.Query().Where(refreshtoken.SessionID(id)).CountX(ctx); (tokens == 0) != gone {
				t.Errorf("session %s: %d refresh tokens", name, tokens)
			}
		}
		for name, id := range tokens {
			if exists := db.Client.AccountToken.Query().Where(accounttoken.ID(id)).ExistX(ctx); exists != (name == "link live") {
				t.Errorf("account token %s: exists %t", name, exists)
			}
		}
		checkCleanupFlows(t, db.Client, flows)
		for name, id := range notices {
			gone := name == "read long ago"
			if exists := db.Client.Notification.Query().Where(notification.ID(id)).ExistX(ctx); exists == gone {
				t.Errorf("notification %s: exists %t", name, exists)
			}
		}
	})
}

// TestJobSpan: with a tracer provider, an attempt is a span carrying the job's kind, attempt and
// status, linked to the trace of the request that inserted the job (in its transaction).
func TestJobSpan(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		spans := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		defer tp.Shutdown(context.Background())
		q := jobs.New(db, jobs.Options{Work: true, PollInterval: 100 * time.Millisecond, Tracing: tp})
		ran := make(chan string, 1)
		jobs.AddWorker(q, river.WorkFunc(func(ctx context.Context, job *river.Job[echoArgs]) error {
			ran <- job.Args.Name
			return nil
		}))
		testenv.StartQueue(t, q)
		ctx, request := tp.Tracer("test").Start(context.Background(), "request")
		err := database.InTx(ctx, db.Client, func(ctx context.Context, _ *ent.Tx) error {
			return q.Insert(ctx, echoArgs{Name: "traced"}, nil)
		})
		request.End()
		if err != nil {
			t.Fatal(err)
		}
		<-ran
		var work tracetest.SpanStub
		for deadline := time.Now().Add(time.Minute); work.Name == ""; time.Sleep(20 * time.Millisecond) {
			for _, s := range spans.GetSpans() {
				if s.Name == "river.work/test_echo" {
					work = s
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no river.work/test_echo span in a minute: %+v", spans.GetSpans())
			}
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range work.Attributes {
			attrs[kv.Key] = kv.Value
		}
		if attrs["kind"].AsString() != "test_echo" || attrs["attempt"].AsInt64() != 1 || attrs["status"].AsString() != "ok" {
			t.Errorf("span attributes %v", work.Attributes)
		}
		// The link is to the insert's span (river.insert_many), in the request's trace.
		if len(work.Links) != 1 || work.Links[0].SpanContext.TraceID() != request.SpanContext().TraceID() {
			t.Errorf("links %+v, want one into the inserting request's trace %s", work.Links, request.SpanContext().TraceID())
		}
	})
}

// cleanupFlows adds a sign-in flow that expired and one still live, by name.
func cleanupFlows(t *testing.T, client *ent.Client) map[string]int {
	t.Helper()
	flows := map[string]int{}
	for name, expires := range map[string]time.Time{"flow expired": time.Now().Add(-time.Minute), "flow live": time.Now().Add(time.Hour)} {
		f := client.SignInFlow.Create().SetKeyHash(name).SetProvider("github").SetRedirectURI("https://app.example.com/").
			SetExpiresAt(expires).SaveX(testenv.System)
		flows[name] = f.ID
	}
	return flows
}

// checkCleanupFlows: the expired flow is gone, the live one is there.
func checkCleanupFlows(t *testing.T, client *ent.Client, flows map[string]int) {
	t.Helper()
	for name, id := range flows {
		if exists := client.SignInFlow.Query().Where(signinflow.ID(id)).ExistX(testenv.System); exists != (name == "flow live") {
			t.Errorf("sign-in flow %s: exists %t", name, exists)
		}
	}
}
