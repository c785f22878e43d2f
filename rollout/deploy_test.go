package rollout

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
)

// TestDeployStopsAtTheFailingStage: each step of the deploy sequence that
// fails before the rollout says which it was and changes nothing: a load,
// an engine that cannot be reached or is too old for a field, a bad
// x-berth setting, an engine that does not answer. No engine listens here;
// the stages that need one are berth apply's and berth run's scenarios.
func TestDeployStopsAtTheFailingStage(t *testing.T) {
	away, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "no-engine.sock")))
	if err != nil {
		t.Fatal(err)
	}
	defer away.Close()
	good := loadProject(t, "services:\n  web:\n    image: app:1\n")
	startInterval := loadProject(t, "services:\n  web:\n    image: app:1\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_period: 5s\n      start_interval: 1s\n")
	badSetting := loadProject(t, "services:\n  web:\n    image: app:1\n    x-berth: {stability: soon}\n")
	loaded := func(p *types.Project) func(context.Context) (*types.Project, error) {
		return func(context.Context) (*types.Project, error) { return p, nil }
	}
	engine := func(version string, err error) func(context.Context) (Engine, string, error) {
		return func(context.Context) (Engine, string, error) { return away, version, err }
	}
	cases := []struct {
		name    string
		load    func(context.Context) (*types.Project, error)
		connect func(context.Context) (Engine, string, error)
		want    Stage
	}{
		{"load", func(context.Context) (*types.Project, error) { return nil, errors.New("bad file") }, engine("1.41", nil), StageLoad},
		{"connect", loaded(good), engine("", errors.New("no engine")), StageConnect},
		{"engine too old", loaded(startInterval), engine("1.41", nil), StageEngine},
		{"bad x-berth", loaded(badSetting), engine("1.41", nil), StageCheck},
		{"engine away", loaded(good), engine("1.41", nil), StageObserve},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			started := false
			_, err := Deploy(context.Background(), Request{Load: c.load, Connect: c.connect,
				Starting: func(Deployment) { started = true }})
			if got := StageOf(err); got != c.want {
				t.Fatalf("stage %q (error %v), want %q", got, err, c.want)
			}
			if started {
				t.Fatal("a rollout was started")
			}
		})
	}
	if StageOf(errors.New("plain")) != "" {
		t.Fatal("an error no stage marked has a stage")
	}
}
