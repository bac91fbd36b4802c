package reports

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium, or skips the test when it is
// missing outside CI (in CI, where env CI is set, it must run).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skipf("chromium not installed: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	// Bound the test's actions; the browser itself lives until cleanup.
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return tctx
}

// consoleDone is logged by the test after its checks; the console is read
// up to it, so every message the page wrote before is seen.
const consoleDone = "etcdchaos-report-test-done"

// openPage subscribes to the tab's console and navigates to a local file.
func openPage(t *testing.T, ctx context.Context, path, ready string) iter.Seq2[chromedp.ConsoleMessage, error] {
	t.Helper()
	messages := chromedp.Console(ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(fileURL(path)),
		chromedp.WaitReady(chromedp.CSS(ready)),
	))
	return messages
}

// consoleProblems logs the sentinel and returns the console errors and
// uncaught exceptions (including failed loads) the page produced.
func consoleProblems(t *testing.T, ctx context.Context, messages iter.Seq2[chromedp.ConsoleMessage, error]) []string {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`console.log("`+consoleDone+`")`))
	require.NoError(t, err)
	var problems []string
	for m, err := range messages {
		require.NoError(t, err)
		if m.Type == chromedp.ConsoleLog && m.Text == consoleDone {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			problems = append(problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
		}
	}
	return problems
}

func evalInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	require.NoError(t, err, expr)
	return n
}

func fileURL(path string) string {
	abs, _ := filepath.Abs(path)
	return (&url.URL{Scheme: "file", Path: abs}).String()
}

// saveScreenshot keeps a screenshot in the test's temp dir and, when env
// REPORT_SCREENSHOT_DIR is set, a copy there.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), name), png, 0o644))
	if dir := os.Getenv("REPORT_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
}

func TestReportInBrowser(t *testing.T) {
	// Eight clients on seven lock names: l1 is shared by clients 1 and 8,
	// which do not exclude each other, so its checks find violations.
	h := genHistoryOpt(6000, 21, 8, 7)
	res, err := verdict.Check(context.Background(), h, models.Options{Timeout: 20 * time.Second, Visualize: true})
	require.NoError(t, err)
	require.Equal(t, models.Violation, res.Verdict)
	dir := t.TempDir()
	meta := Meta{Command: h.Header.Command + " --duration 45s", Duration: time.Duration(h.EndTime()) + 2*time.Second}
	require.NoError(t, Write(dir, h, res, meta))
	viz := ""
	for _, c := range BuildSummary(h, res, meta).Checks {
		if c.Verdict == models.Violation && c.Visualization != "" && viz == "" {
			viz = c.Visualization
		}
	}
	require.NotEmpty(t, viz)

	ctx := newBrowser(t)
	messages := openPage(t, ctx, filepath.Join(dir, IndexFile), "#plot-throughput")
	verdict, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#verdict-label")))
	require.NoError(t, err)
	assert.Equal(t, "VIOLATION", strings.ToUpper(strings.TrimSpace(verdict)))
	assert.Equal(t, 3, evalInt(t, ctx, `document.querySelectorAll("svg.plot").length`), "fault timeline, latency and throughput plots")
	assert.Equal(t, len(h.Faults()), evalInt(t, ctx, `document.querySelectorAll("#plot-faults .bar").length`))
	assert.Positive(t, evalInt(t, ctx, `document.querySelectorAll("#plot-latency path.series[data-f]").length`))
	assert.Positive(t, evalInt(t, ctx, `document.querySelector("#plot-latency").getBoundingClientRect().height|0`), "the plot is laid out")
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	saveScreenshot(t, "index.png", png)
	for _, sec := range []string{"latency", "throughput", "faults"} {
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#"+sec)))
		require.NoError(t, err)
		saveScreenshot(t, sec+".png", shot)
	}

	// A legend entry hides its series.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#plot-latency .lg[data-k="o"][data-v="ok"]`))))
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#plot-latency path.series[data-o="ok"]').style.display`))
	require.NoError(t, err)
	assert.Equal(t, "none", hidden)
	assert.Empty(t, consoleProblems(t, ctx, messages), "index.html: no console errors or exceptions")

	messages = openPage(t, ctx, filepath.Join(dir, filepath.FromSlash(viz)), "body")
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("#canvas svg"))))
	assert.Positive(t, evalInt(t, ctx, `document.querySelectorAll("#canvas svg *").length`), "the visualization drew its history")
	// The viewport only: a visualization can be too large for one image.
	vizPNG, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	saveScreenshot(t, "visualization.png", vizPNG)
	assert.Empty(t, consoleProblems(t, ctx, messages), "visualization: no console errors or exceptions")
}

// TestEmptyHistoryReportInBrowser covers the grey, nothing-to-check page.
func TestEmptyHistoryReportInBrowser(t *testing.T) {
	dir := t.TempDir()
	h := genHistory(0, 22)
	h.Events = nil
	require.NoError(t, Write(dir, h, models.Result{Verdict: models.Empty}, Meta{}))
	ctx := newBrowser(t)
	messages := openPage(t, ctx, filepath.Join(dir, IndexFile), "#plot-latency")
	class, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("verdict").className`))
	require.NoError(t, err)
	assert.Contains(t, class, "v-empty")
	assert.Equal(t, 3, evalInt(t, ctx, `document.querySelectorAll("svg.plot").length`))
	assert.Empty(t, consoleProblems(t, ctx, messages))
}

// TestAggregateReportInBrowser lays out the aggregate page with its
// findings-over-time plot.
func TestAggregateReportInBrowser(t *testing.T) {
	dir := t.TempDir()
	a := detectionAggregate()
	for _, r := range zooAggregate().Runs {
		r.ID = "z" + r.ID
		a.Runs = append(a.Runs, r)
	}
	require.NoError(t, WriteAggregate(dir, a))
	ctx := newBrowser(t)
	messages := openPage(t, ctx, filepath.Join(dir, AggregateIndexFile), "#plot-detection")
	assert.Equal(t, len(a.Detections()), evalInt(t, ctx, `document.querySelectorAll("#plot-detection g.detect").length`))
	assert.Equal(t, 8, evalInt(t, ctx, `document.querySelectorAll("#plot-detection circle.pt").length`), "a dot per run that found a bug")
	assert.Greater(t, evalInt(t, ctx, `document.querySelector("#plot-detection").getBoundingClientRect().height|0`), 100, "the plot is laid out")
	// Every row label fits left of the axis.
	assert.Equal(t, 0, evalInt(t, ctx, `[...document.querySelectorAll("#plot-detection g.detect > text:first-of-type")].filter(t => t.getBBox().x < 0).length`))
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#detection")))
	require.NoError(t, err)
	saveScreenshot(t, "aggregate-detection.png", shot)
	assert.Empty(t, consoleProblems(t, ctx, messages), "aggregate index.html: no console errors or exceptions")
}
