// MQTTPublisher reads a Smarty meter's P1 port, like OnlineDecryption, and
// publishes every telegram to an MQTT broker: one retained topic per
// reading, the whole telegram as JSON, an online/offline status, and Home
// Assistant discovery.
//
//	MQTTPublisher -keyFile smarty.key -device /dev/ttyUSB0
//	MQTTPublisher -keyFile smarty.key -device /dev/ttyUSB0 \
//	    -mqttBroker ssl://broker.lan:8883 -mqttCaFile ca.crt -mqttUser meter \
//	    -queueDir /var/lib/smarty-mqtt
//
// Reading never waits for the network: telegrams go to a queue (on disk
// with -queueDir) that a second goroutine publishes in order, reconnecting
// with backoff when the broker is away.
package main

import (
	"context"
	"errors"
	"io"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mqttpub"
)

func main() { cli.Main(run, mqttpub.FlagMessage) }

const name = "MQTTPublisher"

// testHook, when set by a test, gets the Publisher once it exists.
var testHook func(*mqttpub.Publisher)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] -device PORT [-mqttBroker URL] [flags]\n\n"+
		"Reads the meter and publishes every telegram to an MQTT broker: one retained topic\n"+
		"per reading (<root>/1-0:1.8.0), the telegram as JSON (<root>/telegram), the status\n"+
		"(<root>/status: online/offline) and Home Assistant discovery.", stdout, stderr)
	flags := cli.AddLiveFlags(fset, "stop after `n` telegrams have been delivered to the broker (0: run until interrupted)")
	mf := mqttpub.AddFlags(fset, "tcp://localhost:1883")
	c, done, err := flags.Parse(fset, args, stdout, stderr)
	if done || err != nil {
		return err // -list has printed the ports, or the command line is wrong
	}
	cfg, err := mf.Config(cli.Logger("mqtt"))
	if err != nil {
		return cli.Usagef("%w", err)
	}
	if mf.RemoveDiscovery() {
		return brokerStatus(mqttpub.RunRemove(ctx, cfg, stdout, func(ctx context.Context, o live.Output) error {
			return flags.RunLive(ctx, c, cli.Logger(""), o)
		}))
	}
	pub, err := mqttpub.New(cfg)
	if err != nil {
		if errors.Is(err, mqttpub.ErrQueueLocked) {
			return cli.WithExitStatus(err, cli.ExitLocked)
		}
		return cli.Usagef("%w", err)
	}
	if testHook != nil {
		testHook(pub)
	}
	// A service: a device that is not there yet is waited for.
	return brokerStatus(flags.RunLive(ctx, c, cli.Logger(""), mqttpub.NewOutput(pub)))
}

// brokerStatus gives a refusal of the broker, which a restart cannot fix,
// its exit status.
func brokerStatus(err error) error {
	if errors.Is(err, mqttpub.ErrAuth) || errors.Is(err, mqttpub.ErrTLS) {
		return cli.WithExitStatus(err, cli.ExitBroker)
	}
	return err
}
