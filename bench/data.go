package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// The contact CSV every case reads: ten columns, about 150 bytes a row, the
// shape of a CRM export. Values carry the mess the pipeline's map cleans up:
// mixed-case emails, padded names, phones in four formats, companies with a
// comma (quoted).
const csvHeader = "id,email,first_name,last_name,phone,company,stage,created_at,updated_at,amount\n"

var (
	firstNames = []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
		"David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
		"Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson"}
	companyWords = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Soylent",
		"Cyberdyne", "Tyrell", "Gringotts", "Oscorp", "Monarch", "Aperture", "Massive", "Dynamic", "Pied Piper", "Prestige"}
	companyKinds = []string{"Inc", "LLC", "Holdings", "Roofing", "Windows", "Solar", "Group", "Partners", "Co", "Services"}
	domains      = []string{"example.com", "mail.example.org", "corp.example.net", "example.io"}
	stages       = []string{"lead", "subscriber", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"}
)

// epoch is the earliest created_at.
var epoch = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)

// writeContacts writes rows contacts to path, deterministically from seed.
// With changed, every tenth row (id % 10 == 3) differs from the seed's
// original in stage, amount and updated_at, and nothing else does.
func writeContacts(path string, rows int, seed uint64, changed bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	w.WriteString(csvHeader)
	var b strings.Builder
	for id := 1; id <= rows; id++ {
		first := firstNames[rng.IntN(len(firstNames))]
		last := lastNames[rng.IntN(len(lastNames))]
		domain := domains[rng.IntN(len(domains))]
		email := strings.ToLower(first) + "." + strings.ToLower(last) + strconv.Itoa(id) + "@" + domain
		if rng.IntN(4) == 0 {
			email = first + "." + last + strconv.Itoa(id) + "@" + strings.ToUpper(domain[:1]) + domain[1:]
		}
		if rng.IntN(10) == 0 {
			first = " " + first + " "
		}
		area, mid, end := 200+rng.IntN(800), rng.IntN(1000), rng.IntN(10000)
		var phone string
		switch rng.IntN(4) {
		case 0:
			phone = fmt.Sprintf("(%03d) %03d-%04d", area, mid, end)
		case 1:
			phone = fmt.Sprintf("+1 %03d-%03d-%04d", area, mid, end)
		case 2:
			phone = fmt.Sprintf("%03d.%03d.%04d", area, mid, end)
		default:
			phone = fmt.Sprintf("%03d%03d%04d", area, mid, end)
		}
		company := companyWords[rng.IntN(len(companyWords))] + " " + companyKinds[rng.IntN(len(companyKinds))]
		if rng.IntN(20) == 0 {
			company = `"` + last + ", " + company + `"`
		}
		stage := stages[rng.IntN(len(stages))]
		created := epoch.Add(time.Duration(rng.Int64N(int64(5 * 365 * 24 * time.Hour))))
		updated := created.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		cents := rng.IntN(5_000_000)
		shift := 1 + rng.IntN(len(stages)-1) // drawn in both files, so they stay in step
		if changed && id%10 == 3 {
			stage = stages[(indexOf(stages, stage)+shift)%len(stages)]
			cents += 100
			updated = updated.Add(24 * time.Hour)
		}
		b.Reset()
		fmt.Fprintf(&b, "%d,%s,%s,%s,%s,%s,%s,%s,%s,%d.%02d\n", id, email, first, last, phone, company, stage,
			created.Format(time.RFC3339), updated.Format(time.RFC3339), cents/100, cents%100)
		if _, err := w.WriteString(b.String()); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
