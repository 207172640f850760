package mail

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mailJobs lists the queue's mail jobs, in every state.
func mailJobs(t *testing.T, q *jobs.Queue) []*rivertype.JobRow {
	t.Helper()
	res, err := q.Client().JobList(context.Background(), river.NewJobListParams().Kinds(sendArgs{}.Kind()).States(rivertype.JobStates()...))
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

// eventually polls ok until it holds, or fails after a minute saying what it waited for.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// TestOutboxOutage: while the SMTP server refuses mail for a while (451), queued mail is retried
// with backoff, and once it accepts again every mail arrives once — the one queued twice under
// one key too. A recipient the server refuses for good (550) cancels its job at the first try.
func TestOutboxOutage(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ts := startServer(t, plainServer, nil, func(ts *testServer) {
			ts.dataErr = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			ts.rcptErr = map[string]*smtp.SMTPError{"gone@example.com": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}
		})
		sender, err := NewSMTP("smtp://"+ts.addr+"?tls=none", "Agora <no-reply@agora.test>")
		if err != nil {
			t.Fatal(err)
		}
		q := testenv.NewQueue(db)
		o := NewOutbox(q, sender, slog.New(slog.NewTextHandler(io.Discard, nil)))
		testenv.StartQueue(t, q)
		gone := testMessage("gone")
		gone.To = "gone@example.com"
		for _, m := range []Message{testMessage("a"), testMessage("b"), testMessage("a"), gone} {
			if err := o.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(mailJobs(t, q)); n != 3 {
			t.Fatalf("%d mail jobs, want 3 (one per key)", n)
		}
		eventually(t, "every mail to fail once", func() bool {
			for _, j := range mailJobs(t, q) {
				if len(j.Errors) == 0 {
					return false
				}
			}
			return true
		})
		for _, j := range mailJobs(t, q) {
			if j.State == rivertype.JobStateCompleted {
				t.Fatalf("a mail job completed while the server refused mail: %+v", j)
			}
		}
		ts.mu.Lock()
		ts.dataErr = nil // the server is back
		ts.mu.Unlock()
		eventually(t, "the mail to be delivered", func() bool {
			n, err := q.Busy(context.Background())
			return err == nil && n == 0
		})
		got := ts.messages()
		if len(got) != 2 {
			t.Fatalf("%d mails delivered, want 2", len(got))
		}
		ids := map[string]bool{}
		for _, r := range got {
			ids[parse(t, r.Data).header.Get("Message-Id")] = true
		}
		if !ids["<"+MessageID("a", "agora.test")+">"] || !ids["<"+MessageID("b", "agora.test")+">"] {
			t.Fatalf("delivered Message-IDs %v, want those of keys a and b", ids)
		}
		for _, j := range mailJobs(t, q) {
			var args sendArgs
			if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
				t.Fatal(err)
			}
			want := rivertype.JobStateCompleted
			if args.Message.Key == "gone" {
				want = rivertype.JobStateCancelled
			}
			if j.State != want {
				t.Errorf("job %d: %s, want %s", j.ID, j.State, want)
			}
		}
	})
}
