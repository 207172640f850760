package mail

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/agora/agora/internal/jobs"
)

// Outbox sends mail through the job queue: Send inserts a job in the caller's transaction, so a
// mail exists only if the write that causes it commits, and a worker delivers it with retries.
type Outbox struct {
	queue  *jobs.Queue
	sender Sender
	log    *slog.Logger
}

// NewOutbox returns an Outbox delivering through sender; it registers its worker on queue.
func NewOutbox(queue *jobs.Queue, sender Sender, log *slog.Logger) *Outbox {
	o := &Outbox{queue: queue, sender: sender, log: log}
	jobs.AddWorker(queue, &sendWorker{o: o})
	return o
}

// sendArgs is a mail as a job.
type sendArgs struct {
	Message Message `json:"message"`
}

func (sendArgs) Kind() string { return "mail" }

// Send queues m. It is unique by its Key for as long as River keeps finished jobs (a day): the
// same key queued again, by a retried request or job, is the same mail, sent once.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	return o.queue.Insert(ctx, sendArgs{Message: m}, &river.InsertOpts{
		UniqueOpts: river.UniqueOpts{ByArgs: true},
	})
}

// sendWorker delivers one queued mail.
type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	o *Outbox
}

// Work sends the mail. A temporary failure (server down, 4xx) is returned and retried with
// backoff; a permanent one (5xx for this recipient or content) cancels the job, since sending it
// again cannot succeed. A send that succeeded but whose job was not marked done (the process died
// in between) is sent again with the same Message-ID, which receivers use to drop the copy.
func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	m := job.Args.Message
	err := w.o.sender.Send(ctx, m)
	if IsPermanent(err) {
		w.o.log.WarnContext(ctx, "mail refused for good", "key", m.Key, "err", err)
		return river.JobCancel(fmt.Errorf("mail %s: %w", m.Key, err))
	}
	return err
}
