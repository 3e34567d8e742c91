package engine

import (
	"context"
	"log/slog"
)

// redactingHandler passes every log record of a run through the pipeline's
// redactor: the message, and every string (or error, or Stringer) value,
// groups included. Sources log URLs, SQL and errors; whatever secret ends up
// in them never reaches the log.
type redactingHandler struct {
	inner slog.Handler
	r     *Redactor
}

func (h redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return redactingHandler{h.inner.WithAttrs(red), h.r}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.inner.WithGroup(name), h.r}
}

func (h redactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Redact(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		red := make([]any, len(attrs))
		for i, g := range attrs {
			red[i] = h.redactAttr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.r.Redact(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactLogger wraps log so that nothing it writes carries a secret.
func (p *Pipeline) redactLogger(log *slog.Logger) *slog.Logger {
	return slog.New(redactingHandler{inner: log.Handler(), r: p.redactor})
}
