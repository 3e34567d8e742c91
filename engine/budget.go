package engine

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// RejectBudget is how many records a run may reject (or the database may
// refuse) before it stops as failed: a count, or a percentage of the
// records processed. The zero budget is strict: one reject fails the run.
type RejectBudget struct {
	Count   int64   // at most this many; used when Percent is 0
	Percent float64 // at most this share of processed records, 0 < Percent ≤ 100
}

// String renders the budget as written: "5" or "2.5%".
func (b RejectBudget) String() string {
	if b.Percent > 0 {
		return strconv.FormatFloat(b.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatInt(b.Count, 10)
}

// minPercentSample is how many records a run processes before a
// percentage budget is enforced mid-run: 1 reject in the first 3 records is
// no evidence of 33% bad data. At the end of a run it is always enforced.
const minPercentSample = 1000

// exceeded reports whether bad records out of processed break the budget;
// final is true once the source is exhausted.
func (b RejectBudget) exceeded(bad, processed int64, final bool) bool {
	if b.Percent > 0 {
		if processed == 0 || (!final && processed < minPercentSample) {
			return false
		}
		return float64(bad)*100 > b.Percent*float64(processed)
	}
	return bad > b.Count
}

func parseBudget(e hcl.Expression, ctx *hcl.EvalContext) (RejectBudget, hcl.Diagnostics) {
	if e == nil {
		return RejectBudget{}, nil
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() || v.IsNull() {
		return RejectBudget{}, diags
	}
	bad := func() hcl.Diagnostics {
		return hcl.Diagnostics{errorAt(e.Range(), "Invalid max_rejects",
			`max_rejects is a count of records (max_rejects = 100) or a percentage of the records processed (max_rejects = "2.5%"); 0 fails the run on the first reject.`)}
	}
	switch v.Type() {
	case cty.Number:
		f := v.AsBigFloat()
		n, acc := f.Int64()
		if acc != big.Exact || n < 0 {
			return RejectBudget{}, bad()
		}
		return RejectBudget{Count: n}, nil
	case cty.String:
		s := strings.TrimSpace(v.AsString())
		if pct, ok := strings.CutSuffix(s, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
			if err != nil || f <= 0 || f > 100 {
				return RejectBudget{}, bad()
			}
			return RejectBudget{Percent: f}, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return RejectBudget{}, bad()
		}
		return RejectBudget{Count: n}, nil
	}
	return RejectBudget{}, bad()
}

// errBudget reports a broken budget.
func budgetError(b RejectBudget, bad, processed int64) error {
	return fmt.Errorf("max_rejects exceeded: %d of %d records rejected or refused (budget %s); the rejects are in etl_rejects", bad, processed, b)
}
