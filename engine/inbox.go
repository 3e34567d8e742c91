package engine

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// An inbox holds the records delivered to a pipeline (webhook deliveries,
// stored by `etl serve` before it acknowledged them) until a run lands them.
// A source that reads one (sources/webhook) emits each stored record with
// Record.InboxID set; the engine passes the ids of a batch's records, landed
// or rejected, to the sink in Batch.Inbox, and the sink marks them processed
// in the batch's transaction, so a delivered record is landed exactly once
// whatever crashes.

// InboxRecord is one stored record of a delivery.
type InboxRecord struct {
	ID       int64
	Fields   string // the record, a JSON object (DecodeFields reads it)
	Received time.Time
}

// Inbox reads a pipeline's delivered records that no run has landed yet.
type Inbox interface {
	// Pending returns up to limit unprocessed records with ids above after,
	// in id order.
	Pending(ctx context.Context, after int64, limit int) ([]InboxRecord, error)
}

// InboxStore is implemented by warehouses that keep webhook deliveries
// (the etl_webhook_inbox table).
type InboxStore interface {
	Inbox(pipeline string) Inbox
}

// Receiver is implemented by sources whose records are delivered over HTTP
// (sources/webhook): `etl serve` mounts each on its listener, stores what
// Receive returns in the inbox before it answers, and runs the pipeline to
// land it. A Receiver is safe for concurrent use.
type Receiver interface {
	// Route is the method and path deliveries come to.
	Route() (method, path string)
	// MaxBody is the largest body accepted, in bytes.
	MaxBody() int64
	// Verifies reports whether deliveries are checked (a verify
	// expression); `etl serve` refuses unchecked routes beyond loopback.
	Verifies() bool
	// Receive verifies one delivery and returns its records. Its errors are
	// *Refusal; it never stores anything.
	Receive(d Delivery) ([]DeliveredRecord, error)
	// Respond is the body the sender reads with status (reason says why a
	// delivery was refused; stored counts the records kept).
	Respond(status int, reason string, stored int) (contentType string, body []byte)
	// BatchWait is how long a delivery may wait for others to land with it.
	BatchWait() time.Duration
	// DedupeWindow is how long processed records' dedupe keys are kept.
	DedupeWindow() time.Duration
}

// Delivery is one HTTP request to a Receiver.
type Delivery struct {
	Method string
	URL    string // the URL the sender called, scheme and host included
	Header http.Header
	Body   []byte
}

// DeliveredRecord is one record of a delivery, as the inbox stores it.
type DeliveredRecord struct {
	Fields string // a JSON object
	Key    string // the dedupe key; "" when the record has none
}

// Refusal is a delivery refused: the HTTP status to answer and why. Reason
// never quotes the body or a secret.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s", r.Status, r.Reason) }

// Trigger is a pipeline's `trigger "kind" {}` block: a Receiver whose
// verified deliveries start a run of the pipeline rather than carry its
// records (Receive's records are ignored).
type Trigger interface {
	Receiver
	// Debounce is how long deliveries coalesce into one run.
	Debounce() time.Duration
}

// TriggerFactory builds a Trigger from the body of its `trigger "kind" {}` block.
type TriggerFactory func(body hcl.Body, ctx *hcl.EvalContext, pc PluginContext) (Trigger, hcl.Diagnostics)
