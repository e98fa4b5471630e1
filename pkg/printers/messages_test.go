package printers

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// The test bed's fault image and its kubelet's texts for it (a real
// kubelet's, see test/testbed).
const (
	faultImage = "registry.testbed.invalid/fault/image-pull:v1"
	pullErr    = `rpc error: code = NotFound desc = failed to pull and unpack image "` + faultImage + `": failed to resolve reference "` + faultImage + `": ` + faultImage + `: not found`
	backOff    = `Back-off pulling image "` + faultImage + `": ErrImagePull: ` + pullErr
)

// failing is the event of a Deployment of two replicas rolled to image,
// both new pods in the given container state, summarized as the tracker
// does from what the diagnosis read.
func failing(name, image string, state corev1.ContainerState, last *corev1.ContainerStateTerminated, restarts int32) deployment.Event {
	two := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: image}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}}},
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-7d9f8c6b5", Namespace: "shop"}}
	var pods []*corev1.Pod
	for _, suffix := range []string{"x2k4q", "z8p1m"} {
		cs := corev1.ContainerStatus{Name: "web", State: state, RestartCount: restarts}
		if last != nil {
			cs.LastTerminationState.Terminated = last
		}
		pods = append(pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: rs.Name + "-" + suffix, Namespace: "shop"},
			Spec:       corev1.PodSpec{NodeName: "node-0"},
			Status:     corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{cs}},
		})
	}
	diag := &deployment.Diagnosis{Known: true, ReplicaSet: rs.Name, Problems: diagnosis.Diagnose(diagnosis.Input{ReplicaSet: rs, Pods: pods})}
	return deployment.Event{Type: deployment.Added, Time: t0, Summary: deployment.Summarize(d, diag), Changed: []string{}}
}

func pullFailing() deployment.Event {
	return failing("api", faultImage, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: backOff}}, nil, 0)
}

func crashLooping() deployment.Event {
	return failing("worker", "registry.testbed.invalid/team/worker:2.4.1",
		corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=web pod=worker_shop(uid)"}},
		&corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}, 3)
}

// TestTheCauseOnTheFirstScreen: the row of an image that cannot be pulled
// shows the reason at 80 columns, the registry's answer at 120 and the
// count at 160; a crash loop's its reason, then its last exit. The image,
// which IMAGES shows (its tag from 120 columns), is not repeated.
func TestTheCauseOnTheFirstScreen(t *testing.T) {
	now := t0.Add(90 * time.Second)
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return now }}, `deployments in namespace "shop"`, func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnEvent(pullFailing())
	p.OnEvent(crashLooping())
	p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 3, 3, "nginx:1.27"))
	p.OnSynced(nil)

	rowOf := func(f []string, name string) string {
		for _, l := range f {
			if strings.HasPrefix(l, name+" ") {
				return l
			}
		}
		t.Fatalf("no row %s in\n%s", name, strings.Join(f, "\n"))
		return ""
	}
	for _, tt := range []struct {
		width       int
		api, worker []string // in the rows
	}{
		{80, []string{"Failing", "ImagePullBackOff"}, []string{"Failing", "CrashLoopBackOff"}},
		// IMAGES stays, cut from the left: the tag shows.
		{120, []string{"…t/image-pull:v1", "ImagePullBackOff: not found"}, []string{"worker:2.4.1", "CrashLoopBackOff: OOMKilled, exit code 137"}},
		{160, []string{"/fault/image-pull:v1", "ImagePullBackOff: not found (2 of 2 new pods; pod api-7d9f8c6b5-x2k4q)"}, []string{"CrashLoopBackOff: OOMKilled, exit code 137 (2 of 2 new pods; pod worker-7d9f8c6b5-x2k4q)"}},
	} {
		f := p.Frame(tt.width, 24)
		for _, l := range f {
			if n := utf8.RuneCountInString(l); n > tt.width {
				t.Errorf("at %d columns a line is %d wide: %q", tt.width, n, l)
			}
		}
		api, worker := rowOf(f, "api"), rowOf(f, "worker")
		for _, w := range tt.api {
			if !strings.Contains(api, w) {
				t.Errorf("at %d columns the image-pull row lacks %q:\n%s", tt.width, w, strings.Join(f, "\n"))
			}
		}
		for _, w := range tt.worker {
			if !strings.Contains(worker, w) {
				t.Errorf("at %d columns the crash-loop row lacks %q:\n%s", tt.width, w, strings.Join(f, "\n"))
			}
		}
		if strings.Count(api, "registry.testbed") > 1 || strings.Contains(api, "Back-off pulling") {
			t.Errorf("at %d columns the image-pull row repeats the image:\n%s", tt.width, api)
		}
	}
}

// TestWideLeavesThePodToItsColumn: -o wide's POD column names the example
// pod; MESSAGE does not repeat it.
func TestWideLeavesThePodToItsColumn(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{Wide: true})
	p.OnEvent(pullFailing())
	p.OnSynced(nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || strings.Count(lines[1], "api-7d9f8c6b5-x2k4q") != 1 || !strings.Contains(lines[1], "api-7d9f8c6b5-x2k4q on node-0") ||
		!strings.HasSuffix(lines[1], "ImagePullBackOff: not found (2 of 2 new pods)") {
		t.Errorf("wide table:\n%s", out.String())
	}
}

// TestNDJSONKeepsTheWholeText: no field of an NDJSON line is cut in a
// word; the kubelet's whole text is in the problem's messageFull.
func TestNDJSONKeepsTheWholeText(t *testing.T) {
	var out bytes.Buffer
	NewNDJSON(&out).OnEvent(pullFailing())
	var e struct {
		Message  string `json:"message"`
		Problems []struct {
			Message     string `json:"message"`
			MessageFull string `json:"messageFull"`
			Cause       string `json:"cause"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.Message != "ImagePullBackOff: not found (2 of 2 new pods; pod api-7d9f8c6b5-x2k4q)" || len(e.Problems) != 1 {
		t.Fatalf("line %s", out.String())
	}
	pr := e.Problems[0]
	if pr.MessageFull != backOff || pr.Cause != "not found" || utf8.RuneCountInString(pr.Message) > 200 {
		t.Errorf("problem %+v: want the whole text in messageFull, the cause, a message of at most 200 characters", pr)
	}
	words := strings.Fields(pr.MessageFull)
	for _, w := range strings.Fields(pr.Message) {
		if w != "…" && !slices.Contains(words, w) {
			t.Errorf("message %q cuts the word %q", pr.Message, w)
		}
	}
}

// TestPausedImagesSayTheyAreNotRolledOut: while a rollout is paused with
// pods of the old template left, IMAGES (the spec's) says so.
func TestPausedImagesSayTheyAreNotRolledOut(t *testing.T) {
	paused := func(updated, current int32) deployment.Event {
		e := event(deployment.Added, "shop", "web", deployment.Paused, 2, 2, "nginx:1.27")
		e.Replicas.Updated, e.Replicas.Current = updated, current
		return e
	}
	for _, tt := range []struct {
		e    deployment.Event
		want string
	}{
		{paused(0, 2), "nginx:1.27 (not rolled out)"},
		{paused(1, 3), "nginx:1.27 (on 1 of 3 pods)"},
		{paused(2, 2), "nginx:1.27"},
		{event(deployment.Added, "shop", "web", deployment.Progressing, 1, 2, "nginx:1.27"), "nginx:1.27"},
	} {
		cells := row(Options{}, &tt.e.Summary, string(tt.e.Status), "")
		if got := cells[slices.Index(header(Options{}), "IMAGES")]; got != tt.want {
			t.Errorf("%s with %d of %d pods updated: IMAGES %q, want %q", tt.e.Status, tt.e.Replicas.Updated, tt.e.Replicas.Current, got, tt.want)
		}
	}
}
