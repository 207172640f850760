package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/agora/agora/internal/apperr"
)

// Page is a page of jobs, newest first, and the cursor of the next one ("" at the end).
type Page struct {
	Jobs []*rivertype.JobRow
	Next string
}

// List lists jobs, newest first, of one state and kind when given, first at a time, after the
// cursor of the previous page. It is the admins' view of the queue (callers check the role).
func (q *Queue) List(ctx context.Context, state, kind string, first int, after string) (*Page, error) {
	if first < 1 || first > 100 {
		return nil, apperr.InvalidField("first", "must be 1 to 100")
	}
	params := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(first)
	if state != "" {
		params = params.States(rivertype.JobState(state))
	} else {
		params = params.States(rivertype.JobStates()...)
	}
	if kind != "" {
		params = params.Kinds(kind)
	}
	if after != "" {
		var c river.JobListCursor
		if err := c.UnmarshalText([]byte(after)); err != nil {
			return nil, apperr.InvalidField("after", "not a cursor of this list")
		}
		params = params.After(&c)
	}
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	page := &Page{Jobs: res.Jobs}
	if len(res.Jobs) == first && res.LastCursor != nil {
		next, err := res.LastCursor.MarshalText()
		if err != nil {
			return nil, err
		}
		page.Next = string(next)
	}
	return page, nil
}

// Retry has a job run again as soon as possible: a discarded or cancelled one too, with its
// attempts so far kept. A running job is left alone.
func (q *Queue) Retry(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return notFound(q.client.JobRetry(ctx, id))
}

// Cancel cancels a job that has not finished: it will not run again (a running one is told to stop
// and ends cancelled unless it finishes first).
func (q *Queue) Cancel(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return notFound(q.client.JobCancel(ctx, id))
}

func notFound(job *rivertype.JobRow, err error) (*rivertype.JobRow, error) {
	if errors.Is(err, river.ErrNotFound) {
		return nil, &apperr.Error{Kind: apperr.NotFound, Field: "id", Message: "no such job"}
	}
	return job, err
}

// LastError is the message of a job's last failed attempt, or "" (never its arguments, which may
// hold personal data such as an address).
func LastError(job *rivertype.JobRow) string {
	if n := len(job.Errors); n > 0 {
		return job.Errors[n-1].Error
	}
	return ""
}
