package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/models"
)

// JUnit mapping, one <testcase> per check and name (classname = check,
// name = lock or election name):
//   - a check that fails the run (violation, unknown, or unsafe-without-
//     fencing under --strict) has a <failure> whose message is the account;
//     violation and unknown are failures even if a result forgot Fails;
//   - unsafe-without-fencing that does not fail the run passes, with the
//     account in <system-out>: the check ran and found etcd's documented
//     hazard, which is worth reading but is not a failed test;
//   - a known etcd issue that does not fail the run is <skipped>, its
//     message naming the issue: an upstream issue with its link, or an
//     etcd bug found by etcdchaos that nobody upstream knows of, with its
//     draft report (the suite's "known_issues" property lists both kinds);
//     the bug is etcd's and registered, so the case neither passes nor
//     fails;
//   - empty (nothing to check) is <skipped>.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitText is element text written as CDATA, readable in the raw file.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// failsJUnit reports whether a check is a failed test case.
func failsJUnit(c CheckSummary) bool {
	return c.Fails || c.Verdict == models.Violation || c.Verdict == models.Unknown
}

func junitFor(s Summary) junitSuites {
	suite := junitSuite{Name: "etcdchaos." + orDash(s.Scenario), Properties: junitProperties(s)}
	if s.StartUnixNs > 0 {
		suite.Timestamp = time.Unix(0, s.StartUnixNs).UTC().Format("2006-01-02T15:04:05")
	}
	var total time.Duration
	for _, c := range s.Checks {
		tc := junitCase{ClassName: c.Check, Name: orDash(c.Name), Time: seconds(time.Duration(c.ElapsedNs))}
		total += time.Duration(c.ElapsedNs)
		switch {
		case failsJUnit(c):
			tc.Failure = &junitFailure{Message: failureMessage(c), Type: string(c.Verdict), Body: failureBody(c)}
			suite.Failures++
		case c.Verdict == models.KnownIssue:
			tc.Skipped = &junitSkipped{Message: c.Account}
			suite.Skipped++
		case c.Verdict == models.Empty:
			tc.Skipped = &junitSkipped{Message: "nothing to check"}
			suite.Skipped++
		case c.Account != "":
			tc.SystemOut = &junitText{string(c.Verdict) + ": " + c.Account}
		}
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	suite.Time = seconds(total)
	return junitSuites{Name: "etcdchaos", Tests: suite.Tests, Failures: suite.Failures,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
}

func junitProperties(s Summary) []junitProperty {
	props := []junitProperty{
		{"verdict", string(s.Verdict)},
		{"scenario", s.Scenario},
		{"seed", fmt.Sprint(s.Seed)},
		{"members", fmt.Sprint(s.Members)},
		{"etcd_version", s.EtcdVersion},
		{"duration", s.Duration},
	}
	for _, p := range []junitProperty{{"workload", s.Workload}, {"backend", s.Backend}, {"mutant", s.Mutant}, {"command", s.Command},
		{"known_issues", knownIssuesProperty(s)}} {
		if p.Value != "" {
			props = append(props, p)
		}
	}
	return props
}

// knownIssuesProperty lists the known etcd bugs of a run, each with its
// kind and count: "19597 (upstream) x3, etcdchaos-1 (found by etcdchaos,
// not reported upstream) x2".
func knownIssuesProperty(s Summary) string {
	var parts []string
	for _, c := range models.CountIssues(s.KnownIssues) {
		kind := "upstream"
		if !c.Issue.Upstream {
			kind = "found by etcdchaos, not reported upstream"
		}
		parts = append(parts, fmt.Sprintf("%s (%s) x%d", c.Issue.ID, kind, c.Count))
	}
	return strings.Join(parts, ", ")
}

func failureMessage(c CheckSummary) string {
	if c.Account != "" {
		return c.Account
	}
	return fmt.Sprintf("%s check on %q: %s", c.Check, c.Name, c.Verdict)
}

func failureBody(c CheckSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\n", c.Verdict)
	if c.Account != "" {
		fmt.Fprintf(&b, "account: %s\n", c.Account)
	}
	if len(c.Evidence) > 0 {
		fmt.Fprintf(&b, "operations: %v\n", c.Evidence)
	}
	if c.AtNs > 0 {
		fmt.Fprintf(&b, "at: %s into the run\n", time.Duration(c.AtNs))
	}
	if c.Visualization != "" {
		fmt.Fprintf(&b, "visualization: %s\n", c.Visualization)
	}
	return b.String()
}

func writeJUnit(w io.Writer, s Summary) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitFor(s)); err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
