package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var fullCampaign = flag.Bool("faults", false, "run the whole fault campaign (default: the smoke version); ETL_FAULTS=1 does the same")

// full reports whether the whole campaign runs, rather than the smoke version.
func full() bool { return *fullCampaign || os.Getenv("ETL_FAULTS") == "1" }

// pick returns smoke in the smoke version and campaign in the full one.
func pick[T any](smoke, campaign T) T {
	if full() {
		return campaign
	}
	return smoke
}

// tally is what the campaign proved, summed over every test and printed as
// one line at the end.
var tally struct {
	kills, recovered, lost, duplicated atomic.Int64
	outages, survived                  atomic.Int64
	secretsChecked, secretsLeaked      atomic.Int64
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// etlBinary returns the etl binary: ETL_FAULTS_BIN when set (run.sh builds
// it once), else one built from ../cmd/etl on first use.
func etlBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if b := os.Getenv("ETL_FAULTS_BIN"); b != "" {
			binPath, binErr = filepath.Abs(b)
			return
		}
		binDir, binErr = os.MkdirTemp("", "etl-faults-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "etl")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/etl").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ../cmd/etl: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	flag.Parse()
	start := time.Now()
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if tally.kills.Load()+tally.outages.Load()+tally.secretsChecked.Load() > 0 {
		mode := "smoke"
		if full() {
			mode = "campaign"
		}
		fmt.Printf("faults: %d kills, %d recovered, %d lost, %d duplicated; %d outages survived of %d; %d secrets leaked (%d places checked) [%s, %s]\n",
			tally.kills.Load(), tally.recovered.Load(), tally.lost.Load(), tally.duplicated.Load(),
			tally.survived.Load(), tally.outages.Load(), tally.secretsLeaked.Load(), tally.secretsChecked.Load(),
			mode, time.Since(start).Round(time.Second))
	}
	os.Exit(code)
}
