package examples

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// lintWorkflow runs actionlint on a workflow file (with shellcheck on its
// scripts when shellcheck is installed) and returns its findings.
func lintWorkflow(t *testing.T, path string) []string {
	t.Helper()
	var out bytes.Buffer
	opts := &actionlint.LinterOptions{Color: actionlint.ColorOptionKindNever, Oneline: true}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	}
	l, err := actionlint.NewLinter(&out, opts)
	require.NoError(t, err)
	errs, err := l.LintFile(path, nil)
	require.NoError(t, err)
	var found []string
	for _, e := range errs {
		found = append(found, e.Error())
	}
	return found
}

func TestWorkflowsPassActionlint(t *testing.T) {
	paths, err := filepath.Glob("*.yml")
	require.NoError(t, err)
	require.Contains(t, paths, "github-actions-sharded.yml")
	require.Contains(t, paths, "github-actions-nightly.yml")
	for _, p := range paths {
		require.Empty(t, lintWorkflow(t, p), p)
	}

	// The linter does find mistakes: a misspelt matrix key, a job that
	// needs one that does not exist.
	broken := filepath.Join(t.TempDir(), "broken.yml")
	data, err := os.ReadFile("github-actions-sharded.yml")
	require.NoError(t, err)
	bad := strings.Replace(string(data), `--shard "${{ matrix.shard }}/4"`, `--shard "${{ matrix.shrad }}/4"`, 1)
	bad = strings.Replace(bad, "needs: shard\n", "needs: shards\n", 1)
	require.NoError(t, os.WriteFile(broken, []byte(bad), 0o644))
	found := strings.Join(lintWorkflow(t, broken), "\n")
	require.Contains(t, found, "shrad")
	require.Contains(t, found, `"shards"`)
}

// shardFlag finds the shard count N in a command's `--shard ".../N"`.
var shardFlag = regexp.MustCompile(`--shard "[^"]*/(\d+)"`)

func shardCount(t *testing.T, script string) int {
	t.Helper()
	m := shardFlag.FindStringSubmatch(script)
	require.NotNil(t, m, "no --shard I/N in %q", script)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// The sharded workflow runs as many shards as it tells each one there
// are, and its merge job waits for them and reads what they upload.
func TestShardedWorkflowShardsAgree(t *testing.T) {
	data, err := os.ReadFile("github-actions-sharded.yml")
	require.NoError(t, err)
	type step struct {
		Name string            `json:"name"`
		Uses string            `json:"uses"`
		Run  string            `json:"run"`
		With map[string]string `json:"with"`
	}
	var wf struct {
		Jobs map[string]struct {
			Needs    any `json:"needs"`
			Strategy struct {
				Matrix struct {
					Shard []int `json:"shard"`
				} `json:"matrix"`
			} `json:"strategy"`
			Steps []step `json:"steps"`
		} `json:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(data, &wf))
	shard, merge := wf.Jobs["shard"], wf.Jobs["merge"]
	var run, upload, download, mergeRun string
	for _, s := range shard.Steps {
		if strings.Contains(s.Run, "etcdchaos nightly") {
			run = s.Run
		}
		if strings.HasPrefix(s.Uses, "actions/upload-artifact") {
			upload = s.With["name"]
		}
	}
	for _, s := range merge.Steps {
		if strings.HasPrefix(s.Uses, "actions/download-artifact") {
			download = s.With["pattern"]
		}
		if strings.Contains(s.Run, "etcdchaos merge") {
			mergeRun = s.Run
		}
	}
	n := shardCount(t, run)
	require.Len(t, shard.Strategy.Matrix.Shard, n, "one matrix entry per shard")
	for i, s := range shard.Strategy.Matrix.Shard {
		require.Equal(t, i+1, s, "shards are numbered from 1")
	}
	require.Equal(t, "shard", merge.Needs)
	ok, err := filepath.Match(download, strings.ReplaceAll(upload, "${{ matrix.shard }}", "3"))
	require.NoError(t, err)
	require.True(t, ok, "the merge downloads %q, the shards upload %q", download, upload)
	require.Contains(t, mergeRun, "shards/*")
}

// manifest is every object of a YAML file, decoded strictly: an unknown
// or misplaced field is an error. (kubeconform would check against the
// published OpenAPI schemas, which it fetches from the internet; the API
// types themselves need nothing but the module.)
func manifest(t *testing.T, path string) []runtime.Object {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	objs, err := decodeStrict(f)
	require.NoError(t, err, path)
	return objs
}

func decodeStrict(r io.Reader) ([]runtime.Object, error) {
	scheme := runtime.NewScheme()
	if err := errors.Join(corev1.AddToScheme(scheme), batchv1.AddToScheme(scheme)); err != nil {
		return nil, err
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	docs := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var objs []runtime.Object
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	data, err := os.ReadFile("kubernetes/nightly-shards.yaml")
	require.NoError(t, err)
	_, err = decodeStrict(bytes.NewReader(bytes.Replace(data, []byte("completionMode:"), []byte("completionmode:"), 1)))
	require.ErrorContains(t, err, "completionmode")
}

// script is a container's shell script: `sh -c SCRIPT`.
func script(t *testing.T, c corev1.Container) string {
	t.Helper()
	require.Equal(t, []string{"/bin/sh", "-c"}, c.Command, c.Name)
	require.Len(t, c.Args, 1, c.Name)
	return c.Args[0]
}

// mountFor returns the mount of c under which path lies.
func mountFor(t *testing.T, c corev1.Container, path string) corev1.VolumeMount {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m
		}
	}
	require.Failf(t, "not on a volume", "%s: %s is not under any volume mount", c.Name, path)
	return corev1.VolumeMount{}
}

func claimOf(t *testing.T, spec corev1.PodSpec, volume string) string {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == volume {
			require.NotNil(t, v.PersistentVolumeClaim, "volume %s is not a claim", volume)
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	require.Failf(t, "no volume", "no volume %s", volume)
	return ""
}

// dockerWorkdir is the working directory of the Dockerfile's last stage.
func dockerWorkdir(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("kubernetes/Dockerfile")
	require.NoError(t, err)
	workdir := ""
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "WORKDIR" {
			workdir = f[1]
		}
	}
	return workdir
}

func TestKubernetesIndexedJob(t *testing.T) {
	objs := manifest(t, "kubernetes/nightly-shards.yaml")
	require.Len(t, objs, 2)
	pvc, ok := objs[0].(*corev1.PersistentVolumeClaim)
	require.True(t, ok, "first the volume claim, got %T", objs[0])
	require.Contains(t, pvc.Spec.AccessModes, corev1.ReadWriteMany, "shards on several nodes write to it at once")
	job, ok := objs[1].(*batchv1.Job)
	require.True(t, ok, "then the job, got %T", objs[1])

	spec := job.Spec
	require.NotNil(t, spec.CompletionMode)
	require.Equal(t, batchv1.IndexedCompletion, *spec.CompletionMode)
	require.Len(t, spec.Template.Spec.Containers, 1)
	c := spec.Template.Spec.Containers[0]
	sh := script(t, c)
	n := shardCount(t, sh)
	require.Equal(t, int32(n), *spec.Completions, "completions == shard count")
	require.Equal(t, int32(n), *spec.Parallelism, "parallelism == shard count")
	require.Equal(t, corev1.RestartPolicyNever, spec.Template.Spec.RestartPolicy)
	require.Equal(t, dockerWorkdir(t), c.WorkingDir, "bin/etcdchaos and bin/etcd are where the image puts them")

	// The script, run as pod 2 would run it, runs shard 3/N into a
	// directory on the claim.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "etcdchaos"), []byte("#!/bin/sh\necho \"$@\"\nexit 1\n"), 0o755))
	cmd := exec.Command("/bin/sh", "-c", sh)
	cmd.Dir = dir
	cmd.Env = []string{"JOB_COMPLETION_INDEX=2", "SEED=7", "BUDGET=1m", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "a shard's verdict does not fail its pod: %s", out)
	first, _, _ := strings.Cut(string(out), "\n")
	args := strings.Fields(first)
	require.Equal(t, "nightly", args[0], "%s", out)
	flags := map[string]string{}
	for i := 1; i+1 < len(args); i += 2 {
		flags[args[i]] = args[i+1]
	}
	require.Equal(t, "3/"+strconv.Itoa(n), flags["--shard"], "JOB_COMPLETION_INDEX counts from 0, --shard from 1")
	require.Equal(t, "7", flags["--seed"], "every shard plans the same night")
	outDir := flags["--out"]
	require.Equal(t, "/results/shard-2", outDir)
	require.Contains(t, string(out), "exited 1")

	m := mountFor(t, c, outDir)
	require.False(t, m.ReadOnly)
	require.Equal(t, pvc.Name, claimOf(t, spec.Template.Spec, m.Name))
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	require.False(t, *sc.AllowPrivilegeEscalation)
}

func TestKubernetesMergeJob(t *testing.T) {
	shards := manifest(t, "kubernetes/nightly-shards.yaml")
	shardJob := shards[1].(*batchv1.Job)
	objs := manifest(t, "kubernetes/merge-job.yaml")
	require.Len(t, objs, 1)
	job, ok := objs[0].(*batchv1.Job)
	require.True(t, ok, "%T", objs[0])
	require.Equal(t, int32(0), *job.Spec.BackoffLimit, "a failed merge is a verdict, not worth a retry")
	c := job.Spec.Template.Spec.Containers[0]
	sc := shardJob.Spec.Template.Spec.Containers[0]
	require.Equal(t, sc.Image, c.Image)
	require.Equal(t, sc.WorkingDir, c.WorkingDir)

	sh := script(t, c)
	m := regexp.MustCompile(`bin/etcdchaos merge --out (\S+) (\S+)`).FindStringSubmatch(sh)
	require.NotNil(t, m, sh)
	out, glob := m[1], m[2]
	ok, err := filepath.Match(glob, "/results/shard-2")
	require.NoError(t, err)
	require.True(t, ok, "%s reads the shards' directories", glob)
	ok, err = filepath.Match(glob, out)
	require.NoError(t, err)
	require.False(t, ok, "the merge's output is not taken for a shard")
	for _, p := range []string{out, "/results/shard-2"} {
		mount := mountFor(t, c, p)
		require.Equal(t, "etcdchaos-results", claimOf(t, job.Spec.Template.Spec, mount.Name))
	}
}

// The image builds with the Go release go.mod asks for, and holds the
// zoo's etcd releases beside etcdchaos.
func TestDockerfileFollowsTheModule(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	require.NotNil(t, goLine)
	data, err := os.ReadFile("kubernetes/Dockerfile")
	require.NoError(t, err)
	from := regexp.MustCompile(`(?m)^FROM golang:(\d+\.\d+)\S* AS build$`).FindSubmatch(data)
	require.NotNil(t, from, "a golang build stage")
	require.Equal(t, string(goLine[1]), string(from[1]))
	require.Regexp(t, `(?m)^RUN make build zoo-etcd$`, string(data))
	require.Regexp(t, `(?m)^COPY --from=build /src/bin/ bin/$`, string(data))
	require.Equal(t, "/opt/etcdchaos", dockerWorkdir(t))
}
