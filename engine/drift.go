package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The schema_changes policies: what a run does when an existing table's
// column type differs from the declared one (see Table.SchemaChanges).
const (
	// SchemaWiden (the default) applies lossless widenings itself —
	// integer → decimal, anything → text, date → timestamp — and refuses
	// any other change, naming the statement to run.
	SchemaWiden = "widen"
	// SchemaFail refuses every change, naming the statement to run.
	SchemaFail = "fail"
)

// DriftError is a run refused because table columns' types differ from
// the declared ones in a way the run may not change itself.
type DriftError struct {
	Table   string
	Changes []string // one per column: what differs and the statement that would change it
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("table %s does not match the pipeline, and the run does not change it itself (schema_changes, see the README): %s",
		e.Table, strings.Join(e.Changes, "; "))
}

// SchemaNoter is implemented by warehouses that say what their last
// Prepare of a table changed in it (columns added, types widened), for the
// run's summary.
type SchemaNoter interface {
	SchemaNotes(t Table) []string
}

func parseSchemaChanges(v *string, attrs hcl.Attributes, def hcl.Range) (string, hcl.Diagnostics) {
	if v == nil {
		return SchemaWiden, nil
	}
	switch *v {
	case SchemaWiden, SchemaFail:
		return *v, nil
	}
	return SchemaWiden, hcl.Diagnostics{errorAt(attrRange(attrs, "schema_changes", def), "Invalid schema_changes",
		fmt.Sprintf("schema_changes is %q; use \"widen\" (apply lossless type widenings, refuse others) or \"fail\" (refuse every change of a column's type).%s",
			*v, didYouMean(*v, []string{SchemaWiden, SchemaFail})))}
}

// PlanDrift makes a DriftError part of a plan: the statements, then each
// refused change as a comment ("-- refused, the run fails: …"). Other
// errors pass through.
func PlanDrift(stmts []string, err error) ([]string, error) {
	var de *DriftError
	if !errors.As(err, &de) {
		return stmts, err
	}
	for _, c := range de.Changes {
		stmts = append(stmts, "-- refused, the run fails: "+c)
	}
	return stmts, nil
}
