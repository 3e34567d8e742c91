package engine

import (
	"github.com/hashicorp/hcl/v2"
)

// The HCL schema of a pipeline file, decoded with gohcl. Only the engine's
// own attributes are here; a source block's body is left for its plugin.

type fileConfig struct {
	Pipelines []pipelineConfig `hcl:"pipeline,block"`
	// Connections and variables are read for the whole folder (see
	// connection.go); here they are only allowed.
	Connections []definitionBlock `hcl:"connection,block"`
	Variables   []definitionBlock `hcl:"variable,block"`
}

type definitionBlock struct {
	Name   string   `hcl:"name,label"`
	Remain hcl.Body `hcl:",remain"`
}

type pipelineConfig struct {
	Name        string              `hcl:"name,label"`
	System      string              `hcl:"system"`
	Entity      string              `hcl:"entity"`
	Description string              `hcl:"description,optional"`
	BatchSize   *int                `hcl:"batch_size,optional"`
	Timezone    *string             `hcl:"timezone,optional"`
	MaxRejects  hcl.Expression      `hcl:"max_rejects,optional"`
	SchemaChg   *string             `hcl:"schema_changes,optional"`
	Mask        []string            `hcl:"mask,optional"`
	Sources     []sourceConfig      `hcl:"source,block"`
	Incremental []incrementalConfig `hcl:"incremental,block"`
	Maps        []mapConfig         `hcl:"map,block"`
	Validates   []validateConfig    `hcl:"validate,block"`
	Sinks       []sinkConfig        `hcl:"sink,block"`
	Triggers    []sourceConfig      `hcl:"trigger,block"`
	DefRange    hcl.Range           `hcl:",def_range"`
	Body        hcl.Body            `hcl:",body"`

	// etl serve (see schedule.go).
	Schedule    *string  `hcl:"schedule,optional"`
	Enabled     *bool    `hcl:"enabled,optional"`
	DependsOn   []string `hcl:"depends_on,optional"`
	Timeout     *string  `hcl:"timeout,optional"`
	MaxAttempts *int     `hcl:"max_attempts,optional"`

	WarehouseRetry *string `hcl:"warehouse_retry,optional"`
}

type sourceConfig struct {
	Kind     string    `hcl:"kind,label"`
	Remain   hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

type incrementalConfig struct {
	Cursor   hcl.Expression `hcl:"cursor"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type mapConfig struct {
	Remain   hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

type validateConfig struct {
	Name     string         `hcl:"name,label"`
	Check    hcl.Expression `hcl:"check"`
	Message  *string        `hcl:"message,optional"`
	OnFail   *string        `hcl:"on_fail,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
	Body     hcl.Body       `hcl:",body"`
}

type sinkConfig struct {
	Kind     string          `hcl:"kind,label"`
	URL      *string         `hcl:"url,optional"`
	Table    string          `hcl:"table"`
	Key      []string        `hcl:"key,optional"`
	Mode     *string         `hcl:"mode,optional"`
	Verify   *bool           `hcl:"verify_unchanged,optional"`
	Deletes  *string         `hcl:"deletes,optional"`
	MaxShare hcl.Expression  `hcl:"max_delete_share,optional"`
	Columns  []columnsConfig `hcl:"columns,block"`
	DefRange hcl.Range       `hcl:",def_range"`
	Body     hcl.Body        `hcl:",body"`
}

type columnsConfig struct {
	Remain   hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}
