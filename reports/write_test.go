package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

func TestGeneratedHistoryIsValid(t *testing.T) {
	h := genHistory(3000, 1)
	parsed, err := history.Read(bytes.NewReader(encodeHistory(t, h)), "gen")
	require.NoError(t, err)
	require.Equal(t, 16*(3000/16), len(parsed.Operations()))
	require.NotEmpty(t, parsed.Faults())
}

func TestWriteProducesAllFiles(t *testing.T) {
	dir := t.TempDir()
	h := genHistory(2000, 2)
	res := violatingResult(h)
	require.NoError(t, Write(dir, h, res, Meta{Notes: []string{"note <b>one</b>"}}))

	var s Summary
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &s))
	assert.Equal(t, models.Violation, s.Verdict)
	assert.Equal(t, models.ExitViolation, s.ExitCode)
	assert.Equal(t, "lock-partition", s.Scenario)
	assert.Equal(t, int64(2), s.Seed)
	assert.Equal(t, h.Header.Command, s.Command, "command falls back to the header's")
	assert.Equal(t, len(h.Operations()), s.Ops.Total)
	assert.Equal(t, s.Ops.Total, s.Ops.ByOutcome["ok"]+s.Ops.ByOutcome["fail"]+s.Ops.ByOutcome["info"]+s.Ops.ByOutcome["pending"])
	assert.Positive(t, s.Ops.ByF["lock"]["ok"])
	assert.Len(t, s.Faults, len(h.Faults()))
	assert.Len(t, s.Checks, len(res.Checks))
	assert.Equal(t, time.Duration(h.EndTime()).String(), s.Duration)

	html := readFile(t, filepath.Join(dir, IndexFile))
	assertHas(t, html, `id="verdict" class="verdict v-violation"`)
	assertHas(t, html, `id="plot-latency"`)
	assertHas(t, html, `id="plot-throughput"`)
	assertHas(t, html, `id="plot-faults"`)
	assertHas(t, html, "note &lt;b&gt;one&lt;/b&gt;", "notes are escaped")
	// The violation's account and its operations are listed; the unknown
	// id is reported as missing.
	l1 := res.Checks[2]
	require.Equal(t, "l1", l1.Name)
	assertHas(t, html, l1.Account)
	for _, id := range l1.Evidence[:2] {
		assertHas(t, html, `<td class="num">`+strconv.FormatInt(id, 10)+`</td>`)
	}
	assert.True(t, strings.Contains(html, "operations not found in the history: 999999999"))
	assertHas(t, html, "an unfenced write landed after the lease")
	assertOffline(t, html)

	_, err = os.Stat(filepath.Join(dir, JUnitFile))
	require.NoError(t, err)
}

// assertOffline fails if the page loads anything from the network.
func assertOffline(t *testing.T, html string) {
	t.Helper()
	urls := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindAllString(html, -1)
	assert.Empty(t, urls, "no network resources")
	assertHasNot(t, html, "@import")
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestIndexEscapesHistoryText(t *testing.T) {
	h := genHistory(200, 3)
	h.Header.Scenario = `<script>alert(1)</script>`
	h.Header.Command = `etcdchaos run --scenario "<x>" & echo`
	h.Events = append(h.Events, history.Event{Type: history.TypeFault, Fault: "partition<img src=x>",
		Phase: history.PhaseStart, Time: h.EndTime(), Detail: `"{1}" <b>`})
	res := models.Result{Verdict: models.Ok, Checks: []models.CheckResult{{Check: models.CheckLock, Name: `<i>l0</i>`, Verdict: models.Ok}}}
	var b bytes.Buffer
	require.NoError(t, renderIndex(&b, h, BuildSummary(h, res, Meta{})))
	html := b.String()
	assertHasNot(t, html, "<script>alert")
	assertHasNot(t, html, "<img src=x>")
	assertHasNot(t, html, "<i>l0</i>")
	assertHasNot(t, html, `"{1}" <b>`)
	assertHas(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assertHas(t, html, "partition&lt;img src=x&gt;")
}

// The summary says what the one verdict function says: the result's
// verdict and exit code, liveness included as one of its checks.
func TestExitCodes(t *testing.T) {
	h := genHistory(100, 4)
	check := func(c string, v models.Verdict, fails bool) models.CheckResult {
		return models.CheckResult{Check: c, Name: "l0", Verdict: v, Fails: fails}
	}
	for _, tc := range []struct {
		name    string
		checks  []models.CheckResult
		verdict models.Verdict
		code    int
	}{
		{"ok", []models.CheckResult{check(models.CheckLock, models.Ok, false)}, models.Ok, 0},
		{"violation", []models.CheckResult{check(models.CheckLock, models.Violation, true)}, models.Violation, 1},
		{"unknown", []models.CheckResult{check(models.CheckLock, models.Unknown, true)}, models.Unknown, 3},
		{"unsafe allowed", []models.CheckResult{check(models.CheckUnfenced, models.UnsafeWithoutFencing, false)}, models.UnsafeWithoutFencing, 0},
		{"unsafe strict", []models.CheckResult{check(models.CheckUnfenced, models.UnsafeWithoutFencing, true)}, models.UnsafeWithoutFencing, 1},
		{"failing liveness", []models.CheckResult{check(models.CheckLock, models.Ok, false), check(models.CheckLiveness, models.Violation, true)}, models.Violation, 1},
		{"passing liveness", []models.CheckResult{check(models.CheckLock, models.Ok, false), check(models.CheckLiveness, models.Ok, false)}, models.Ok, 0},
		{"nothing checked", nil, models.Empty, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := models.Result{Checks: tc.checks}
			res.Verdict, res.ExitCode = verdict.Combine(tc.checks)
			s := BuildSummary(h, res, Meta{})
			assert.Equal(t, tc.verdict, s.Verdict)
			assert.Equal(t, tc.code, s.ExitCode)
			assert.Len(t, s.Checks, len(tc.checks))
		})
	}
}

func TestReadMetaRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m, err := ReadMeta(dir)
	require.NoError(t, err)
	assert.Equal(t, Meta{}, m, "no summary yet")

	h := genHistory(300, 5)
	meta := Meta{Command: "etcdchaos run --seed 5", Duration: 42 * time.Second, Notes: []string{"n"}}
	require.NoError(t, Write(dir, h, models.Result{Verdict: models.Ok}, meta))
	got, err := ReadMeta(dir)
	require.NoError(t, err)
	assert.Equal(t, meta, got)

	require.NoError(t, os.WriteFile(filepath.Join(dir, SummaryFile), []byte("{not json"), 0o644))
	_, err = ReadMeta(dir)
	require.Error(t, err)
}

func TestVisualizationFailureIsAWarning(t *testing.T) {
	dir := t.TempDir()
	h := genHistory(200, 6)
	// Linearization info without the checker's own state cannot be drawn.
	res := models.Result{Verdict: models.Ok, Checks: []models.CheckResult{
		{Check: models.CheckLock, Name: "l0", Verdict: models.Ok, Porcupine: &models.PorcupineRun{Model: porcupine.Model{}, Info: &porcupine.LinearizationInfo{}}},
		{Check: models.CheckLock, Name: "l1", Verdict: models.Ok},
	}}
	require.NoError(t, Write(dir, h, res, Meta{}))
	var s Summary
	require.NoError(t, json.Unmarshal([]byte(readFile(t, filepath.Join(dir, SummaryFile))), &s))
	assert.Empty(t, s.Checks[0].Visualization, "no link to a visualization that was not written")
	assert.NoFileExists(t, filepath.Join(dir, "viz/lock-l0.html"))
	assert.False(t, strings.Contains(readFile(t, filepath.Join(dir, IndexFile)), "viz/lock-l0.html"))
}

func TestVizPathsAreSafeAndUnique(t *testing.T) {
	info := &models.PorcupineRun{Info: &porcupine.LinearizationInfo{}}
	paths := vizPaths([]models.CheckResult{
		{Check: "lock", Name: "../../etc", Porcupine: info},
		{Check: "lock", Name: "__.._etc", Porcupine: info},
		{Check: "lock", Name: "", Porcupine: info},
		{Check: "lock", Name: "x"},
	})
	assert.Equal(t, []string{"viz/lock-______etc.html", "viz/lock-_____etc.html", "viz/lock-all.html", ""}, paths)
	for _, p := range paths[:3] {
		assert.Equal(t, "viz", filepath.Dir(p))
	}
}

// Standard JUnit XML structures (the schema CI systems read).
type xSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       float64     `xml:"time,attr"`
	Properties []xProperty `xml:"properties>property"`
	Cases      []xCase     `xml:"testcase"`
}

type xProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xCase struct {
	ClassName string    `xml:"classname,attr"`
	Name      string    `xml:"name,attr"`
	Time      float64   `xml:"time,attr"`
	Failure   *xFailure `xml:"failure"`
	Skipped   *struct{} `xml:"skipped"`
	SystemOut string    `xml:"system-out"`
}

type xFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func parseJUnit(t *testing.T, path string) xSuites {
	t.Helper()
	var x xSuites
	require.NoError(t, xml.Unmarshal([]byte(readFile(t, path)), &x))
	require.Len(t, x.Suites, 1)
	return x
}

func TestJUnitHasCasesAndFailures(t *testing.T) {
	dir := t.TempDir()
	h := genHistory(500, 7)
	res := violatingResult(h)
	res.Checks = append(res.Checks,
		models.CheckResult{Check: models.CheckElection, Name: "e0", Verdict: models.Unknown, Fails: true, Account: "timed out ]]> <x> & more"},
		models.CheckResult{Check: models.CheckObserve, Name: "e1", Verdict: models.Empty})
	require.NoError(t, Write(dir, h, res, Meta{}))

	x := parseJUnit(t, filepath.Join(dir, JUnitFile))
	suite := x.Suites[0]
	assert.Equal(t, len(res.Checks), suite.Tests)
	assert.Len(t, suite.Cases, len(res.Checks))
	assert.Equal(t, 2, suite.Failures, "the violation and the unknown")
	assert.Equal(t, 1, suite.Skipped)
	assert.Equal(t, suite.Failures, x.Failures)

	byKey := map[string]xCase{}
	for _, c := range suite.Cases {
		byKey[c.ClassName+"/"+c.Name] = c
	}
	v := byKey["lock/l1"]
	require.NotNil(t, v.Failure)
	assert.Equal(t, res.Checks[2].Account, v.Failure.Message)
	assert.Equal(t, "violation", v.Failure.Type)
	assert.Contains(t, v.Failure.Text, "operations: [")
	require.NotNil(t, byKey["election/e0"].Failure)
	assert.Equal(t, "timed out ]]> <x> & more", byKey["election/e0"].Failure.Message)
	assert.Contains(t, byKey["election/e0"].Failure.Text, "account: timed out ]]> <x> & more\n", "CDATA survives its terminator")
	assert.NotNil(t, byKey["observe/e1"].Skipped)
	unsafe := byKey["unfenced-writes/l2"]
	assert.Nil(t, unsafe.Failure, "allowed unsafe-without-fencing passes")
	assert.Contains(t, unsafe.SystemOut, "unsafe-without-fencing: an unfenced write")
	assert.Nil(t, byKey["lock/l0"].Failure)

	props := map[string]string{}
	for _, p := range suite.Properties {
		props[p.Name] = p.Value
	}
	assert.Equal(t, "7", props["seed"])
	assert.Equal(t, "violation", props["verdict"])
}

func TestJUnitAllOk(t *testing.T) {
	dir := t.TempDir()
	h := genHistory(100, 8)
	res := models.Result{Verdict: models.Ok, Checks: []models.CheckResult{
		{Check: models.CheckLock, Name: "l0", Verdict: models.Ok}, {Check: models.CheckLock, Name: "l1", Verdict: models.Ok}}}
	require.NoError(t, Write(dir, h, res, Meta{}))
	x := parseJUnit(t, filepath.Join(dir, JUnitFile))
	assert.Equal(t, 2, x.Suites[0].Tests)
	assert.Zero(t, x.Suites[0].Failures)
	for _, c := range x.Suites[0].Cases {
		assert.Nil(t, c.Failure)
	}
}

func TestWriteRejectsNilHistory(t *testing.T) {
	require.Error(t, Write(t.TempDir(), nil, models.Result{}, Meta{}))
}

// assertHas is assert.Contains for big pages: a failure shows the missing
// text, not the page.
func assertHas(t *testing.T, page, sub string, msg ...any) {
	t.Helper()
	if !strings.Contains(page, sub) {
		assert.Fail(t, fmt.Sprintf("page lacks %q", sub), msg...)
	}
}

func assertHasNot(t *testing.T, page, sub string, msg ...any) {
	t.Helper()
	if i := strings.Index(page, sub); i >= 0 {
		assert.Fail(t, fmt.Sprintf("page has %q at %d", sub, i), msg...)
	}
}

func TestChecksTableShowsFailingChecksFirst(t *testing.T) {
	h := genHistory(100, 9)
	res := violatingResult(h)
	rows, findings := checkRows(BuildSummary(h, res, Meta{}).Checks, h.Operations())
	require.Len(t, rows, len(res.Checks))
	assert.Equal(t, "l1", rows[0].Name)
	assert.Equal(t, models.Violation, rows[0].Verdict)
	assert.Equal(t, models.UnsafeWithoutFencing, rows[1].Verdict)
	require.Len(t, findings, 2)
	assert.Equal(t, rows[0].Anchor, findings[0].Anchor)
}
