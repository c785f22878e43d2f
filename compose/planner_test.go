package compose

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// web/db/worker desired state, and a live state equal to it.
func fixture() (*Desired, *Live) {
	d := &Desired{
		Project: "shop",
		Services: []DesiredService{
			{Name: "db", Image: "postgres:16.2", Replicas: 1, Hash: "h-db", Fields: map[string]string{"image": "i1", "environment": "e1"}, Networks: []string{"shop_default"}, Volumes: []string{"shop_data"}},
			{Name: "web", Image: "example/web:1.4", Replicas: 2, Hash: "h-web", Fields: map[string]string{"image": "i2", "environment": "e2", "ports": "p2"}, Networks: []string{"shop_default"}, DependsOn: []string{"db"}},
		},
		Networks: []DesiredResource{{Key: "default", Name: "shop_default", Hash: "n1"}},
		Volumes:  []DesiredResource{{Key: "data", Name: "shop_data", Hash: "v1"}},
	}
	live := &Live{
		Project:  "shop",
		Networks: map[string]LiveResource{"shop_default": {ID: "net1", Name: "shop_default", Labels: map[string]string{LabelProject: "shop", LabelNetwork: "default", LabelConfigHash: "n1"}}},
		Volumes:  map[string]LiveResource{"shop_data": {Name: "shop_data", Labels: map[string]string{LabelProject: "shop", LabelVolume: "data", LabelConfigHash: "v1"}}},
		Images:   map[string]string{"postgres:16.2": "sha256:aaaa", "example/web:1.4": "sha256:bbbb"},
	}
	c := func(id, svc string, n int, img, hash string, f map[string]string) LiveContainer {
		return LiveContainer{ID: id, Name: "shop-" + svc + "-" + string(rune('0'+n)), Service: svc, Number: n, Image: img,
			ImageID: live.Images[img], State: "running", Hash: hash, Fields: EncodeFields(f), Networks: map[string]string{"shop_default": "net1"}}
	}
	live.Containers = []LiveContainer{
		c("c-db1", "db", 1, "postgres:16.2", "h-db", d.Services[0].Fields),
		c("c-web1", "web", 1, "example/web:1.4", "h-web", d.Services[1].Fields),
		c("c-web2", "web", 2, "example/web:1.4", "h-web", d.Services[1].Fields),
	}
	return d, live
}

func TestPlanGolden(t *testing.T) {
	cases := map[string]func(d *Desired, l *Live){
		"in-sync": func(d *Desired, l *Live) {},
		"image-tag-changed": func(d *Desired, l *Live) {
			d.Services[1].Image, d.Services[1].Hash, d.Services[1].Fields["image"] = "example/web:1.5", "h-web2", "i3"
			l.Images["example/web:1.5"] = "sha256:cccc"
		},
		"environment-changed": func(d *Desired, l *Live) {
			d.Services[0].Hash, d.Services[0].Fields["environment"] = "h-db2", "e9"
		},
		"image-rebuilt-same-tag": func(d *Desired, l *Live) { l.Images["example/web:1.4"] = "sha256:dddd" },
		"image-missing":          func(d *Desired, l *Live) { l.Images["postgres:16.2"] = "" },
		"container-removed-by-hand": func(d *Desired, l *Live) {
			l.Containers = append(l.Containers[:1], l.Containers[2:]...)
		},
		"container-stopped": func(d *Desired, l *Live) { l.Containers[0].State = "exited" },
		"scale-up-to-3":     func(d *Desired, l *Live) { d.Services[1].Replicas = 3 },
		"scale-down-to-1":   func(d *Desired, l *Live) { d.Services[1].Replicas = 1 },
		"orphan-service": func(d *Desired, l *Live) {
			l.Containers = append(l.Containers, LiveContainer{ID: "c-old", Name: "shop-cache-1", Service: "cache", Number: 1, State: "running"})
		},
		"network-missing": func(d *Desired, l *Live) { delete(l.Networks, "shop_default") },
		"volume-missing":  func(d *Desired, l *Live) { delete(l.Volumes, "shop_data") },
		"adopted-from-compose-changed": func(d *Desired, l *Live) {
			// compose-made containers have no berth field label: the cause stays general.
			l.Containers[0].Fields = ""
			d.Services[0].Hash = "h-db3"
		},
		"interrupted-start-first-new-kept": func(d *Desired, l *Live) {
			// SIGKILL after the new container started: the old one is aside.
			d.Services[0].Hash, d.Services[0].Fields["environment"] = "h-db2", "e9"
			old := l.Containers[0]
			old.Name = AsideName(old.Name, old.ID)
			l.Containers[0] = old
			l.Containers = append(l.Containers, LiveContainer{ID: "c-db1-new", Name: "shop-db-1", Service: "db", Number: 1, Image: "postgres:16.2",
				ImageID: "sha256:aaaa", State: "running", Hash: "h-db2", Fields: EncodeFields(d.Services[0].Fields), Networks: map[string]string{"shop_default": "net1"}})
		},
		"interrupted-start-first-only-aside": func(d *Desired, l *Live) {
			// SIGKILL after the old container was renamed, before the new one.
			d.Services[0].Hash, d.Services[0].Fields["environment"] = "h-db2", "e9"
			l.Containers[0].Name = AsideName(l.Containers[0].Name, l.Containers[0].ID)
		},
		"interrupted-aside-in-sync": func(d *Desired, l *Live) {
			// A put-back cut short: the old container is in sync but aside.
			l.Containers[0].Name = AsideName(l.Containers[0].Name, l.Containers[0].ID)
		},
		"interrupted-temporary-name": func(d *Desired, l *Live) {
			// compose's recreate cut short: the new one has a temporary name.
			d.Services[0].Hash = "h-db2"
			l.Containers = append(l.Containers, LiveContainer{ID: "c-db1-tmp", Name: "c-db1_shop-db-1", Service: "db", Number: 1, Image: "postgres:16.2",
				ImageID: "sha256:aaaa", State: "created", Hash: "h-db2", Networks: map[string]string{}})
		},
		"one-shot-finished": func(d *Desired, l *Live) {
			d.Services[0].OneShot = true
			l.Containers[0].State, l.Containers[0].Status = "exited", "Exited (0) 2 minutes ago"
		},
		"one-shot-failed": func(d *Desired, l *Live) {
			d.Services[0].OneShot = true
			l.Containers[0].State, l.Containers[0].Status = "exited", "Exited (3) 2 minutes ago"
		},
		"pull-policy-always": func(d *Desired, l *Live) { d.Services[1].PullPolicy = "always" },
		"pull-policy-never-present": func(d *Desired, l *Live) {
			d.Services[1].PullPolicy = "never"
		},
		"first-deploy": func(d *Desired, l *Live) {
			l.Containers, l.Networks, l.Volumes = nil, map[string]LiveResource{}, map[string]LiveResource{}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d, l := fixture()
			mutate(d, l)
			pl, err := BuildPlan(d, l)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "plan", name+".golden"), pl.String())
		})
	}
}

func TestPlanRefusesDivergedVolume(t *testing.T) {
	d, l := fixture()
	l.Volumes["shop_data"].Labels[LabelConfigHash] = "other"
	_, err := BuildPlan(d, l)
	if err == nil || !strings.Contains(err.Error(), "volume shop_data: its definition changed") || !strings.Contains(err.Error(), "never removes a volume") {
		t.Fatalf("want a diverged-volume error, got %v", err)
	}
}

func TestPlanPullPolicyNeverMissing(t *testing.T) {
	d, l := fixture()
	d.Services[1].PullPolicy = "never"
	l.Images["example/web:1.4"] = ""
	_, err := BuildPlan(d, l)
	if err == nil || !strings.Contains(err.Error(), `service "web": image example/web:1.4 is not present and its pull_policy is never`) {
		t.Fatalf("want a pull_policy never error, got %v", err)
	}
}

func TestPlanRefusesForeignNetwork(t *testing.T) {
	d, l := fixture()
	l.Networks["shop_default"].Labels[LabelNetwork] = "other"
	if _, err := BuildPlan(d, l); err == nil || !strings.Contains(err.Error(), "belongs to something else") {
		t.Fatalf("want a foreign-network error, got %v", err)
	}
}

func TestPlanSharedNetworkNamespaceFollows(t *testing.T) {
	d, l := fixture()
	d.Services = append(d.Services, DesiredService{Name: "sidecar", Image: "postgres:16.2", Replicas: 1, Hash: "h-s", Refs: []string{"web"}})
	l.Containers = append(l.Containers, LiveContainer{ID: "c-side", Name: "shop-sidecar-1", Service: "sidecar", Number: 1, Image: "postgres:16.2", ImageID: "sha256:aaaa", State: "running", Hash: "h-s"})
	d.Services[1].Hash = "h-web-new"
	pl, err := BuildPlan(d, l)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "plan", "shared-network-namespace.golden"), pl.String())
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./compose -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("plan differs from %s\n--- got\n%s--- want\n%s", path, got, want)
	}
}
