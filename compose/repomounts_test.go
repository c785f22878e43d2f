package compose

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// repoMountProject is a project whose web service bind-mounts the copy of
// conf/app.conf holding blob and whose worker mounts nothing of the stack.
func repoMountProject(t *testing.T, blob string) *Desired {
	t.Helper()
	web := types.ServiceConfig{Name: "web", Image: "example/web:1.4",
		Volumes: []types.ServiceVolumeConfig{{Type: types.VolumeTypeBind, Source: "/data/mounts/shop/" + blob, Target: "/conf/app.conf"}}}
	SetRepoMounts(&web, []RepoMount{{Path: "conf/app.conf", Object: blob, Copy: "/data/mounts/shop/" + blob}})
	worker := types.ServiceConfig{Name: "worker", Image: "example/web:1.4"}
	p := &types.Project{Name: "shop", Services: types.Services{"web": web, "worker": worker}}
	d, err := NewDesired(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRepoMountChangeNamesTheFile: a new blob behind a mount recreates that
// service alone, and the plan names the file, not "volumes, labels".
func TestRepoMountChangeNamesTheFile(t *testing.T) {
	old := repoMountProject(t, "1111111111111111111111111111111111111111")
	cur := repoMountProject(t, "2222222222222222222222222222222222222222")
	live := &Live{Project: "shop", Images: map[string]string{"example/web:1.4": "sha256:aaaa"}}
	for _, s := range old.Services {
		live.Containers = append(live.Containers, LiveContainer{ID: "c-" + s.Name, Name: "shop-" + s.Name + "-1", Service: s.Name,
			Number: 1, Image: s.Image, State: "running", Hash: s.Hash, Fields: EncodeFields(s.Fields)})
	}
	pl, err := BuildPlan(cur, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Ops) != 1 || pl.Ops[0].Service != "web" || pl.Ops[0].Kind != OpRecreate {
		t.Fatalf("plan: %+v", pl.Ops)
	}
	if got, want := pl.Ops[0].Cause, "mounted file conf/app.conf changed"; got != want {
		t.Fatalf("cause %q, want %q", got, want)
	}
	if same, _ := BuildPlan(old, live); len(same.Ops) != 0 {
		t.Fatalf("the same files planned %+v", same.Ops)
	}
}

// TestRepoMountsOnlyFromBerth: a compose file cannot pose as a copy.
func TestRepoMountsOnlyFromBerth(t *testing.T) {
	s := types.ServiceConfig{Extensions: types.Extensions{repoMountsKey: []any{map[string]any{"Path": "x"}}}}
	if ms := RepoMounts(s); len(ms) != 0 {
		t.Fatalf("mounts from a compose file: %+v", ms)
	}
}
