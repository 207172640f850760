package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/agora/agora/internal/jobs"
)

// scheduleJob inserts a clean-up job due at and returns its ID.
func scheduleJob(t testing.TB, a *api, at time.Time) string {
	t.Helper()
	if err := a.jobs.Insert(context.Background(), jobs.CleanupArgs{}, &river.InsertOpts{ScheduledAt: at}); err != nil {
		t.Fatal(err)
	}
	res, err := a.jobs.Client().JobList(context.Background(), river.NewJobListParams().Kinds(jobs.CleanupArgs{}.Kind()).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1))
	if err != nil || len(res.Jobs) == 0 {
		t.Fatalf("the job just inserted is not listed: %v", err)
	}
	return strconv.FormatInt(res.Jobs[0].ID, 10)
}

type jobView struct {
	ID, Kind, State string
	Attempt         int
	LastError       *string
}

// TestJobsAdmin: an admin lists the queue's jobs by state and kind, a page at a time, cancels a job
// that has not run and has it run again; an unknown job is NOT_FOUND.
func TestJobsAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		admin := a.register(t, "root")
		a.setRole(t, admin, "ADMIN")
		first := scheduleJob(t, a, time.Now().Add(24*time.Hour))
		second := scheduleJob(t, a, time.Now().Add(48*time.Hour))
		list := `query($after: String) { jobs(state: SCHEDULED, kind: "cleanup", first: 1, after: $after) {
			jobs { id kind state attempt lastError } nextCursor } }`
		var page struct {
			Jobs struct {
				Jobs       []jobView
				NextCursor *string
			}
		}
		a.as(admin).Do(t, list, nil, &page)
		if len(page.Jobs.Jobs) != 1 || page.Jobs.Jobs[0].ID != second || page.Jobs.Jobs[0].State != "SCHEDULED" || page.Jobs.NextCursor == nil {
			t.Fatalf("first page: %+v", page)
		}
		a.as(admin).Do(t, list, map[string]any{"after": *page.Jobs.NextCursor}, &page)
		if len(page.Jobs.Jobs) != 1 || page.Jobs.Jobs[0].ID != first {
			t.Fatalf("second page: %+v", page)
		}

		a.as(admin).Fail(t, "NOT_FOUND", "id", `mutation { cancelJob(input: {id: "999999999"}) { job { id } } }`, nil)
		a.as(admin).Fail(t, "BAD_USER_INPUT", "after", `{ jobs(after: "nonsense") { nextCursor } }`, nil)
		var c struct{ CancelJob struct{ Job jobView } }
		a.as(admin).Do(t, `mutation($id: ID!) { cancelJob(input: {id: $id}) { job { id state } } }`, map[string]any{"id": first}, &c)
		if c.CancelJob.Job.State != "CANCELLED" {
			t.Fatalf("cancelJob: %+v", c)
		}
		if strings.HasSuffix(t.Name(), "sqlite") {
			// River's SQLite driver tells workers of a cancellation by a notice they poll for
			// (every 50 ms); one handled while the retried job is being fetched cancels the new
			// attempt too. An admin retries seconds later, not within that window.
			time.Sleep(time.Second)
		}
		var r struct{ RetryJob struct{ Job jobView } }
		a.as(admin).Do(t, `mutation($id: ID!) { retryJob(input: {id: $id}) { job { id state } } }`, map[string]any{"id": first}, &r)
		if r.RetryJob.Job.State != "AVAILABLE" {
			t.Fatalf("retryJob: %+v", r)
		}
		// A retried job is due at once, and runs to completion.
		waitFor(t, "the retried job to run", func() bool {
			var done struct{ Jobs struct{ Jobs []jobView } }
			a.as(admin).Do(t, `{ jobs(state: COMPLETED, kind: "cleanup", first: 10) { jobs { id attempt } } }`, nil, &done)
			for _, j := range done.Jobs.Jobs {
				if j.ID == first && j.Attempt == 1 {
					return true
				}
			}
			return false
		})
	})
}
