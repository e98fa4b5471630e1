package operations

import (
	"slices"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

func TestParseImageArgs(t *testing.T) {
	tests := []struct {
		args     []string
		want     []ContainerImage
		problems []string // substrings, one per problem, in order
	}{
		{args: []string{"web=nginx"}, want: []ContainerImage{{"web", "nginx"}}},
		{args: []string{"web=nginx:1.27", "sidecar=registry.example.com:5000/team/envoy:v1.30@sha256:" + strings.Repeat("a", 64)},
			want: []ContainerImage{{"web", "nginx:1.27"}, {"sidecar", "registry.example.com:5000/team/envoy:v1.30@sha256:" + strings.Repeat("a", 64)}}},
		{args: []string{"*=busybox"}, want: []ContainerImage{{"*", "busybox"}}},
		{args: []string{"web=localhost/app"}, want: []ContainerImage{{"web", "localhost/app"}}},
		{args: []string{"web=a=b"}, problems: []string{`invalid image "a=b"`}}, // only the first "=" separates
		{args: nil, problems: []string{"no CONTAINER=IMAGE given"}},
		{args: []string{"nginx:1.27"}, problems: []string{`"nginx:1.27" is not CONTAINER=IMAGE`}},
		{args: []string{"web="}, problems: []string{`container "web": empty image`}},
		{args: []string{"=nginx"}, problems: []string{`"=nginx" names no container`}},
		{args: []string{"web=Nginx"}, problems: []string{"must be lowercase"}},
		{args: []string{"web=nginx:"}, problems: []string{`invalid image "nginx:"`}},
		{args: []string{"web=nginx:1 "}, problems: []string{"leading or trailing spaces"}},
		{args: []string{"web=" + strings.Repeat("a", 64)}, problems: []string{"invalid image"}},
		{args: []string{"web=nginx", "web=httpd"}, problems: []string{`container "web" is given more than once`}},
		{args: []string{"web=nginx", "oops", "side=", "x=UPPER"},
			problems: []string{`"oops" is not CONTAINER=IMAGE`, `container "side": empty image`, `container "x": invalid image "UPPER"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := ParseImageArgs(tt.args)
			ps := ProblemsOf(err)
			if len(ps) != len(tt.problems) {
				t.Fatalf("problems = %v, want %d: %v", ps, len(tt.problems), tt.problems)
			}
			for i, p := range ps {
				if !strings.Contains(p.Message, tt.problems[i]) || p.Field != "images" {
					t.Errorf("problem %d = %+v, want it to say %q", i, p, tt.problems[i])
				}
			}
			if err != nil {
				if ReasonOf(err) != BadRequest || got != nil {
					t.Errorf("on error: reason %q, pairs %v; want BadRequest and none", ReasonOf(err), got)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pairs = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzParseImageArgs holds ParseImageArgs to its contract on any input:
// no panic, and what it accepts names each container once and has images
// the kubelet can parse, exactly as given.
func FuzzParseImageArgs(f *testing.F) {
	for _, seed := range []string{
		"web=nginx", "*=busybox:1.36", "web=nginx:1.27\nside=envoy", "=", "web=", "=x", "nginx",
		"web=Nginx", "a=b=c", "web=registry:5000/x/y:tag@sha256:" + strings.Repeat("0", 64),
		"web= nginx", "web=nginx\nweb=nginx", "\n", "web=" + strings.Repeat("f", 64), "web=nginx@sha256:abc",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		args := strings.Split(input, "\n")
		pairs, err := ParseImageArgs(args)
		if err != nil {
			if ReasonOf(err) != BadRequest || len(ProblemsOf(err)) == 0 || pairs != nil {
				t.Fatalf("error %v: reason %q, problems %v, pairs %v", err, ReasonOf(err), ProblemsOf(err), pairs)
			}
			return
		}
		if len(pairs) != len(args) {
			t.Fatalf("%d pairs from %d args", len(pairs), len(args))
		}
		seen := map[string]bool{}
		for i, p := range pairs {
			if p.String() != args[i] {
				t.Errorf("pair %d = %q, from %q", i, p, args[i])
			}
			if p.Container == "" || seen[p.Container] {
				t.Errorf("container %q empty or repeated", p.Container)
			}
			seen[p.Container] = true
			if _, err := reference.ParseNormalizedNamed(p.Image); err != nil {
				t.Errorf("accepted image %q the kubelet refuses: %v", p.Image, err)
			}
		}
	})
}
