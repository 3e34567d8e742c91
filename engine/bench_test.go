package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// benchPipeline is the map and checks of the bench's case-1 pipeline
// (bench/main.go) over a source of records held in memory.
const benchPipeline = `pipeline "bench_contacts" {
  system = "bench"
  entity = "contacts"

  source "memory" {}

  map {
    id         = "int(record.id)"
    email      = "email(record.email)"
    first_name = "trim(record.first_name)"
    last_name  = "trim(record.last_name)"
    phone      = "phone(record.phone)"
    company    = "trim(record.company)"
    stage      = "lower(trim(record.stage))"
    created_at = "timestamp(record.created_at)"
    updated_at = "timestamp(record.updated_at)"
    amount     = "decimal(record.amount)"
  }

  validate "has_email" {
    check   = "email != nil"
    message = "contact has no email"
  }

  validate "amount_not_negative" {
    check   = "amount == nil || amount >= 0"
    message = "amount is negative"
  }

  sink "warehouse" {
    table = "bench.contacts"
    key   = ["id"]
  }
}
`

// memorySource emits the same records on every Read, allocating nothing, so
// a benchmark measures the engine alone.
type memorySource struct{ records []engine.Record }

func (s *memorySource) Read(ctx context.Context, _ engine.ReadOptions, emit func(engine.Record) error) error {
	for _, r := range s.records {
		if err := emit(r); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// contactRecords returns n contact records as the csv source makes them:
// every field a string, in the bench file's formats, as Values in the
// order of one schema.
func contactRecords(n int) []engine.Record {
	names := []string{"id", "email", "first_name", "last_name", "phone", "company", "stage", "created_at", "updated_at", "amount"}
	schema := engine.NewSchema(names)
	phones := []string{"(415) 555-0134", "+1 415-555-0134", "415.555.0134", "4155550134"}
	stages := []string{"lead", "subscriber", "opportunity", "customer"}
	records := make([]engine.Record, n)
	for i := range records {
		id := strconv.Itoa(i + 1)
		email := "karen.davis" + id + "@mail.example.org"
		if i%4 == 0 {
			email = "Karen.Davis" + id + "@Example.org"
		}
		first := "Karen"
		if i%10 == 0 {
			first = " Karen "
		}
		records[i] = engine.Record{
			Pos:    engine.Position{File: "contacts.csv", Line: i + 2},
			Schema: schema,
			Values: []any{
				id, email, first, "Davis", phones[i%len(phones)], "Gringotts Holdings", stages[i%len(stages)],
				fmt.Sprintf("2022-03-%02dT23:33:15Z", 1+i%28), fmt.Sprintf("2022-12-%02dT00:29:40Z", 1+i%28),
				fmt.Sprintf("%d.%02d", i%50000, i%100),
			},
		}
	}
	return records
}

// BenchmarkTransform measures the per-record path of the bench's case-1
// pipeline — ten map expressions, converting each value to its column type,
// and two checks — without I/O, and reports it per record.
//
// "run" is Pipeline.Run with DryRun over an in-memory source: the engine's
// read and transform stages exactly as `etl run` runs them, with no
// warehouse. "preview" is Pipeline.Preview, which also builds a map per row
// for its caller (one more allocation than a run makes per record).
func BenchmarkTransform(b *testing.B) {
	const n = 20000
	src := &memorySource{records: contactRecords(n)}
	reg := engine.NewRegistry()
	reg.RegisterSource("memory", func(hcl.Body, *hcl.EvalContext, engine.PluginContext) (engine.Source, hcl.Diagnostics) {
		return src, nil
	})
	p, diags := engine.NewLoader(reg).LoadSource("bench.hcl", []byte(benchPipeline))
	require.False(b, diags.HasErrors(), diags.Error())
	ctx := context.Background()

	perRecord := func(b *testing.B, pass func()) {
		pass() // warm up: the VM's stack, the first batch's slices
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := cpuTime()
		b.ResetTimer()
		for b.Loop() {
			pass()
		}
		b.StopTimer()
		cpu := cpuTime() - cpu0
		runtime.ReadMemStats(&after)
		records := float64(b.N) * n
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
		// CPU time counts the work of every goroutine (and the GC's) and not
		// the waits for a core other processes hold: steadier than wall
		// time on a shared machine.
		b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/records, "allocs/record")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/records, "B/record")
	}

	b.Run("run", func(b *testing.B) {
		perRecord(b, func() {
			res, err := p.Run(ctx, reg, engine.RunOptions{DryRun: true})
			if err != nil || res.Valid != n {
				b.Fatalf("dry run: valid %d of %d: %v", res.Valid, n, err)
			}
		})
	})
	b.Run("preview", func(b *testing.B) {
		perRecord(b, func() {
			valid := 0
			err := p.Preview(ctx, engine.RunOptions{}, func(o engine.Outcome) error {
				if o.Row != nil {
					valid++
				}
				return nil
			})
			if err != nil || valid != n {
				b.Fatalf("preview: valid %d of %d: %v", valid, n, err)
			}
		})
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
