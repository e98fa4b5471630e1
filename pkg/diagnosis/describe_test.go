package diagnosis

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
)

// The test bed's fault image, and the texts a real kubelet (v1.37, with
// containerd) writes for it: see test/testbed's stages.
const (
	image   = "registry.testbed.invalid/fault/image-pull:v1"
	pullErr = `rpc error: code = NotFound desc = failed to pull and unpack image "` + image + `": failed to resolve reference "` + image + `": ` + image + `: not found`
	runErr  = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: exec: "/app/server": stat /app/server: no such file or directory: unknown`
)

func TestCause(t *testing.T) {
	tests := []struct {
		reason, message, want string
	}{
		// The kubelet's pull errors: its waiting message, its back-off
		// message (kubelet 1.32 and later wrap the pull error), its event.
		{"ErrImagePull", pullErr, "not found"},
		{"ImagePullBackOff", `Back-off pulling image "` + image + `": ErrImagePull: ` + pullErr, "not found"},
		{"ImagePullBackOff", `Failed to pull image "` + image + `": ` + pullErr, "not found"},
		{"ImagePullBackOff", `Back-off pulling image "` + image + `"`, ""},
		// Registries' answers, as containerd and dockerd word them.
		{"ErrImagePull", `rpc error: code = Unknown desc = failed to pull and unpack image "reg:5000/team/enterprise-customer:5": failed to resolve reference "reg:5000/team/enterprise-customer:5": unexpected status code [manifests 5]: 401 Unauthorized`, "401 Unauthorized"},
		{"ErrImagePull", `rpc error: code = Unknown desc = failed to pull and unpack image "harbor.example/x:1": failed to resolve reference "harbor.example/x:1": failed to authorize: failed to fetch oauth token: 401 Unauthorized`, "failed to fetch oauth token: 401 Unauthorized"},
		{"ErrImagePull", `rpc error: code = Unknown desc = Error response from daemon: manifest for team/webapp:release0-5 not found: manifest unknown: manifest unknown`, "manifest unknown"},
		{"ErrImagePull", `rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/busybox:1.36.1": failed to resolve reference "docker.io/library/busybox:1.36.1": pulling from host registry-1.docker.io failed with status code [manifests 1.36.1]: 403 Forbidden: unauthorized: authentication required`, "unauthorized: authentication required"},
		{"ErrImagePull", `rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "docker.io/library/busybox:1.36.1": failed to resolve reference "docker.io/library/busybox:1.36.1": failed to do request: Head "https://registry-1.docker.io/v2/library/busybox/manifests/1.36.1": dial tcp 202.53.137.209:443: i/o timeout`, "dial tcp 202.53.137.209:443: i/o timeout"},
		{"ErrImagePull", `rpc error: code = Unknown desc = context deadline exceeded`, "context deadline exceeded"},
		{"InvalidImageName", `Failed to apply default image tag "registry.testbed.invalid/fault/INVALID-IMAGE:v1": couldn't parse image name "registry.testbed.invalid/fault/INVALID-IMAGE:v1": invalid reference format: repository name (fault/INVALID-IMAGE) must be lowercase`, "repository name (fault/INVALID-IMAGE) must be lowercase"},
		{"ErrImageNeverPull", `Container image "nginx:1.27" is not present with pull policy of Never`, "Container image is not present with pull policy of Never"},
		// The runtime's.
		{"RunContainerError", runErr, "stat /app/server: no such file or directory"},
		// Texts that are their own cause.
		{"CreateContainerConfigError", `configmap "app-config" not found`, `configmap "app-config" not found`},
		{"Evicted", "The node was low on resource: memory. Threshold quantity: 100Mi, available: 48236Ki. ", "The node was low on resource: memory. Threshold quantity: 100Mi, available: 48236Ki."},
		// The scheduler's, the API server's, the prober's, without what the
		// reason says.
		{"Unschedulable", "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.", "2 node(s) didn't match Pod's node affinity/selector"},
		{"Unschedulable", "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.", "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu"},
		{"FailedCreate", `pods "web-7d9f-abcde" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`, "exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"},
		{"FailedCreate", `Error creating: pods "web-7d9f-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true`, `violates PodSecurity "restricted:latest": runAsNonRoot != true`},
		{"Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", "readiness probe: HTTP probe failed with statuscode: 503"},
		{"CrashLoopBackOff", "back-off 40s restarting failed container=web pod=web-1_shop(uid)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.reason+" "+tt.want, func(t *testing.T) {
			if got := Cause(tt.reason, tt.message); got != tt.want {
				t.Errorf("Cause(%s, %q)\n got %q\nwant %q", tt.reason, tt.message, got, tt.want)
			}
		})
	}
}

func TestExitCause(t *testing.T) {
	for _, tt := range []struct {
		code        int32
		reason, msg string
		want        string
	}{
		{1, "Error", "", "exit code 1"},
		{137, "OOMKilled", "", "OOMKilled, exit code 137"},
		{0, "Completed", "", "Completed, exit code 0"},
		{128, "StartError", runErr, "StartError: stat /app/server: no such file or directory"},
		{2, "Error", "panic: boom", "exit code 2"}, // an app's termination message is no cause we can shorten
	} {
		if got := exitCause(tt.code, tt.reason, tt.msg); got != tt.want {
			t.Errorf("exitCause(%d, %s) = %q, want %q", tt.code, tt.reason, got, tt.want)
		}
	}
}

// TestDescribeCounts: the count says how many pods have the problem out of
// the new pods that exist, and how many are wanted when that differs; the
// container is named when the pod has others.
func TestDescribeCounts(t *testing.T) {
	p := Problem{Reason: "ErrImagePull", Cause: "not found", Pod: "web-1", Pods: 1, Container: "web"}
	several := p
	several.nameContainer = true
	tests := []struct {
		name             string
		problems         []Problem
		newPods, desired int32
		want             string
	}{
		{"the only new pod of two wanted", []Problem{p}, 1, 2, "ErrImagePull: not found (1 of 1 new pod, 2 wanted; pod web-1)"},
		{"one of two new pods", []Problem{p}, 2, 2, "ErrImagePull: not found (1 of 2 new pods; pod web-1)"},
		{"the count from the pods when the status lags", []Problem{{Reason: "ErrImagePull", Cause: "not found", Pod: "web-1", Pods: 3}}, 2, 3, "ErrImagePull: not found (3 of 3 new pods; pod web-1)"},
		{"a container among others", []Problem{several}, 3, 3, "ErrImagePull: not found (1 of 3 new pods; pod web-1, container web)"},
		{"no cause known", []Problem{{Reason: "ImagePullBackOff", Pod: "web-1", Pods: 2}}, 2, 2, "ImagePullBackOff (2 of 2 new pods; pod web-1)"},
		{"evicted pods, which their ReplicaSet no longer counts, are new pods", []Problem{{Reason: "Evicted", Cause: "The node was low on resource: memory.", Pod: "web-1", Pods: 3, failed: true}}, 2, 2,
			"Evicted: The node was low on resource: memory. (3 of 5 new pods, 2 wanted; pod web-1)"},
		{"a ReplicaSet's problem has no count", []Problem{{Reason: "FailedCreate", Cause: "exceeded quota"}, p}, 1, 3, "FailedCreate: exceeded quota; and 1 other problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(tt.problems, tt.newPods, tt.desired); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestDiagnoseTheKubeletsTexts: a pod as the test bed's kubelet leaves it
// (the exact texts of a real one): the cause leads, the image the row
// shows is left out, the whole text is kept.
func TestDiagnoseTheKubeletsTexts(t *testing.T) {
	backOff := `Back-off pulling image "` + image + `": ErrImagePull: ` + pullErr
	twoContainers := func(p *corev1.Pod) {
		waiting("ImagePullBackOff", backOff)(p)
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "sidecar", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
	}
	ps := Diagnose(Input{ReplicaSet: rs(), Pods: []*corev1.Pod{pod("web-7d9f-a", waiting("ImagePullBackOff", backOff)), pod("web-7d9f-b", waiting("ErrImagePull", pullErr))}})
	if len(ps) != 1 {
		t.Fatalf("problems %+v", ps)
	}
	p := ps[0]
	if p.Cause != "not found" || p.MessageFull != backOff || utf8.RuneCountInString(p.Message) > maxMessage || !strings.Contains(p.Message, " … ") {
		t.Errorf("problem %+v: want cause %q, the whole text in messageFull, a message shortened around …", p, "not found")
	}
	if got, want := Describe(ps, 2, 2), "ImagePullBackOff: not found (2 of 2 new pods; pod web-7d9f-a)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	ps = Diagnose(Input{ReplicaSet: rs(), Pods: []*corev1.Pod{pod("web-7d9f-a", twoContainers)}})
	if got, want := Describe(ps, 1, 2), "ImagePullBackOff: not found (1 of 1 new pod, 2 wanted; pod web-7d9f-a, container web)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	// A container the runtime cannot start: the runtime's answer.
	ps = Diagnose(Input{ReplicaSet: rs(), Pods: []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", RestartCount: 1,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: runErr}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: runErr}}}}
	})}})
	if got, want := Describe(ps, 1, 1), "RunContainerError: StartError: stat /app/server: no such file or directory (1 of 1 new pod; pod web-7d9f-a)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	// A bare back-off (a kubelet before 1.32) takes the pull error from
	// the kubelet's event: an image with a tag has a colon, which is no
	// pull error.
	ps = Diagnose(Input{ReplicaSet: rs(), Pods: []*corev1.Pod{pod("web-7d9f-a", waiting("ImagePullBackOff", `Back-off pulling image "nginx:nope"`))},
		Events: []*corev1.Event{event("Pod", "web-7d9f-a", "Failed", `Failed to pull image "nginx:nope": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:nope": failed to resolve reference "docker.io/library/nginx:nope": docker.io/library/nginx:nope: not found`)}})
	if len(ps) != 1 || ps[0].Cause != "not found" || !strings.HasPrefix(ps[0].Message, "Failed to pull image") {
		t.Errorf("problems %+v, want the event's pull error", ps)
	}
}

// TestShorten: a long message keeps its first and last whole words within
// maxMessage characters; the whole line is kept beside it.
func TestShorten(t *testing.T) {
	long := "Back-off pulling image: " + strings.Repeat("ab ", 200) + "\nnot found"
	short, full := shorten(long)
	if n := utf8.RuneCountInString(short); n > maxMessage || !strings.HasPrefix(short, "Back-off pulling image: ab") || !strings.HasSuffix(short, "ab not found") || !strings.Contains(short, " … ") || strings.Contains(short, "\n") {
		t.Errorf("shorten gave %d runes: %q", n, short)
	}
	if full != strings.Join(strings.Fields(long), " ") {
		t.Errorf("full = %q, want the whole text on one line", full)
	}
	words := strings.Fields(full)
	for _, w := range strings.Fields(short) {
		if w != "…" && !slices.Contains(words, w) {
			t.Errorf("%q is not a whole word of the text", w)
		}
	}
	if s, f := shorten("short\n enough"); s != "short enough" || f != "" {
		t.Errorf("shorten(short) = %q, %q", s, f)
	}
	// Words of every length, cut anywhere: never in a word.
	for n := 1; n < 60; n += 7 {
		text := strings.TrimSpace(strings.Repeat(strings.Repeat("x", n)+" y ", 400/n+20))
		s, _ := shorten(text)
		for _, w := range strings.Fields(s) {
			if w != "…" && w != "y" && w != strings.Repeat("x", n) {
				t.Fatalf("word length %d: %q has a cut word %q", n, s, w)
			}
		}
		if utf8.RuneCountInString(s) > maxMessage {
			t.Errorf("word length %d: %d runes", n, utf8.RuneCountInString(s))
		}
	}
	// A single word longer than the room is left out, not cut.
	if s, _ := shorten(strings.Repeat("z", 300) + " not found"); s != "… not found" {
		t.Errorf("a 300-character word gave %q", s)
	}
}

// TestProblemJSON: the fields scripts read, with the new ones beside the
// old ones.
func TestProblemJSON(t *testing.T) {
	ps := Diagnose(Input{ReplicaSet: rs(), Pods: []*corev1.Pod{pod("web-7d9f-a", waiting("ErrImagePull", pullErr+strings.Repeat(" and more", 20)))}})
	raw, err := json.Marshal(ps[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reason", "message", "messageFull", "cause", "pod", "pods", "container"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, raw)
		}
	}
	if fmt.Sprint(m["messageFull"]) != pullErr+strings.Repeat(" and more", 20) {
		t.Errorf("messageFull = %q", m["messageFull"])
	}
}
