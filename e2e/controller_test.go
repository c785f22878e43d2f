package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/store"
)

const shopCompose = `services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 1s
      timeout: 2s
      retries: 10
  worker:
    image: berthtest/app:1.0
    restart: unless-stopped
`

const dataCompose = `services:
  db:
    image: berthtest/app:1.0
    restart: unless-stopped
    volumes: [data:/data]
volumes:
  data: {}
`

// TestControllerFollowsBranch is the product's main path against a real
// Git server and the real engine: first deploy of two stacks, a tag change
// deployed alone, a bad commit stalled, drift put back, a force-push
// followed, a stack deleted from the repo removed with its volume kept, and
// a SIGKILLed controller restarted without redeploying.
func TestControllerFollowsBranch(t *testing.T) {
	in := newInfra(t)
	shop, data := in.project("shop"), in.project("data")
	removeVolumeLater(t, in.cli, data.project+"_data")
	in.write("shop", "compose.yaml", shopCompose)
	in.write("data", "compose.yaml", dataCompose)
	first := in.commit("two stacks")

	run := in.startBerth("")
	run.waitApplied(shop.project, first, 90*time.Second)
	run.waitApplied(data.project, first, 30*time.Second)
	before := shop.containers()
	if len(before) != 2 {
		t.Fatalf("shop runs %d containers, want 2: %v", len(before), ids(before))
	}
	for name, c := range before {
		if c.State != "running" || c.Labels[compose.LabelBerthCommit] != first || c.Labels[compose.LabelBerthManaged] != "true" {
			t.Fatalf("%s: state %s, labels %v", name, c.State, c.Labels)
		}
	}
	dataBefore := ids(data.containers())

	t.Log("a commit changes one service's tag: only that service is recreated")
	webOnly11 := strings.Replace(shopCompose, "web:\n    image: berthtest/app:1.0", "web:\n    image: berthtest/app:1.1", 1)
	in.write("shop", "compose.yaml", webOnly11)
	second := in.commit("web 1.1")
	pushed := time.Now()
	run.waitApplied(shop.project, second, 30*time.Second)
	t.Logf("deployed %.1fs after the push", time.Since(pushed).Seconds())
	after := shop.containers()
	web, worker := shop.name("web", 1), shop.name("worker", 1)
	if after[web].ID == before[web].ID || after[web].Image != "berthtest/app:1.1" {
		t.Fatalf("web was not recreated on 1.1: %v", ids(after))
	}
	if after[worker].ID != before[worker].ID {
		t.Fatalf("worker was recreated though it did not change: %v → %v", ids(before), ids(after))
	}
	run.waitApplied(data.project, second, 10*time.Second)
	if got := ids(data.containers()); got != dataBefore {
		t.Fatalf("data changed though its files did not: %s → %s", dataBefore, got)
	}

	t.Log("a bad commit stalls the stack and leaves it running")
	in.write("shop", "compose.yaml", strings.Replace(webOnly11, "worker:\n    image: berthtest/app:1.0", "worker:\n    image: berthtest/app:${WORKER_TAG:?set WORKER_TAG}", 1))
	bad := in.commit("worker tag from a variable nobody set")
	run.waitFor("shop stalled", 30*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateStalled && s.Attempted == bad
	})
	st := run.stackState(shop.project)
	if !strings.Contains(st.Error, "WORKER_TAG") || !strings.Contains(st.Error, "compose.yaml") || st.Applied != second {
		t.Fatalf("stalled status should name the file and variable and keep the applied commit: %+v", st)
	}
	if got := ids(shop.containers()); got != ids(after) {
		t.Fatalf("a stalled commit changed the live stack: %s → %s", ids(after), got)
	}
	run.waitApplied(data.project, bad, 10*time.Second) // other stacks go on

	t.Log("the next good commit deploys")
	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	fixed := in.commit("worker 1.1")
	run.waitApplied(shop.project, fixed, 30*time.Second)

	t.Log("a container removed by hand is put back")
	fixedIDs := shop.containers()
	if _, err := in.cli.ContainerRemove(context.Background(), fixedIDs[worker].ID, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	run.waitFor("worker put back", 30*time.Second, func() bool {
		c, ok := shop.containers()[worker]
		return ok && c.State == "running" && c.ID != fixedIDs[worker].ID
	})

	t.Log("a force-push is followed to the new head")
	in.work.ResetHard(second)
	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	in.write("shop", "README", "rewritten history\n")
	forced := in.work.Commit("rewritten")
	in.work.ForcePush()
	run.waitApplied(shop.project, forced, 30*time.Second)
	if !run.logHas("force") {
		t.Fatalf("no warning about the force-push in the log")
	}

	t.Log("a stack deleted from the repo is removed; its named volume stays")
	in.work.Remove("stacks/" + data.project)
	gone := in.commit("retire data")
	run.waitFor("data removed", 30*time.Second, func() bool {
		return run.stackState(data.project).State == controller.StateRemoved || len(data.containers()) == 0 && run.stackState(data.project).State == ""
	})
	run.waitFor("data containers gone", 10*time.Second, func() bool { return len(data.containers()) == 0 })
	if !volumeExists(t, in.cli, data.project+"_data") {
		t.Fatal("the removed stack's named volume was deleted")
	}
	run.waitApplied(shop.project, gone, 10*time.Second)

	t.Log("SIGKILL and restart: an unchanged commit is not redeployed")
	steady := ids(shop.containers())
	run.kill()
	run2 := startBerthArgs(t, run.dataDir, run.args)
	run2.waitFor("restarted controller fetched", 30*time.Second, func() bool {
		st, err := run2.status()
		return err == nil && st.Source != nil && st.Source.Head != nil && st.Source.Head.Hash == gone
	})
	run2.waitCycles(2) // polls that must not redeploy
	run2.waitApplied(shop.project, gone, 10*time.Second)
	if got := ids(shop.containers()); got != steady {
		t.Fatalf("restart redeployed an unchanged commit: %s → %s", steady, got)
	}

	t.Log("berth status and history ask the running controller")
	out, _, code := runBerth(t, "status", "--socket", run2.socket)
	if code != 0 || !strings.Contains(out, shop.project) || !strings.Contains(out, "in sync") {
		t.Fatalf("berth status: exit %d\n%s", code, out)
	}
	out, _, code = runBerth(t, "history", shop.project, "--socket", run2.socket, "--json")
	var hist []store.Deploy
	if code != 0 || json.Unmarshal([]byte(out), &hist) != nil {
		t.Fatalf("berth history --json: exit %d\n%s", code, out)
	}
	outcomes := map[string]int{}
	for _, d := range hist {
		outcomes[d.Outcome]++
	}
	if outcomes[controller.OutcomeSucceeded] < 3 || outcomes[controller.OutcomeStalled] != 1 || outcomes[controller.OutcomeDrift] < 1 {
		t.Fatalf("history outcomes %v, want ≥3 succeeded, 1 stalled, ≥1 drift corrected", outcomes)
	}

	t.Log("SIGTERM exits 0; status then reads the data dir")
	run2.stop()
	out, _, code = runBerth(t, "status", "--socket", run2.socket, "--data-dir", run.dataDir)
	if code != 0 || !strings.Contains(out, "not running") || !strings.Contains(out, shop.project) {
		t.Fatalf("berth status from the data dir: exit %d\n%s", code, out)
	}
	if strings.Contains(run.logs()+run2.logs(), gitPassword) {
		t.Fatal("the Git password reached the log")
	}
}
