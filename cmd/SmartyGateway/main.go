// SmartyGateway reads a Smarty meter's P1 port once and serves every
// telegram to each consumer a household runs, all at once: an MQTT broker
// (as MQTTPublisher), DSMR clients over TCP (Home Assistant's DSMR
// integration, dsmr-reader, evcc, Node-RED), HTTP (a live page, Prometheus
// /metrics, the telegram as JSON and as Server-Sent Events) and standard
// output (as OnlineDecryption). Each output is turned on by its own flag:
//
//	SmartyGateway -keyFile smarty.key -device /dev/ttyUSB0 -dsmrListen :2001 -http :8080
//	SmartyGateway -keyFile smarty.key -device /dev/ttyUSB0 \
//	    -mqttBroker tcp://broker.lan:1883 -dsmrListen 0.0.0.0:2001 -dsmrAllow 192.168.1.0/24
//
// No output waits on another: a slow DSMR client, event stream or broker
// costs the others nothing, and never delays reading the meter.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/dsmrfeed"
	"github.com/NEXXTLAB/go-smarty-reader/internal/format"
	"github.com/NEXXTLAB/go-smarty-reader/internal/httpapi"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mqttpub"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

func main() { cli.Main(run, mqttpub.FlagMessage) }

const name = "SmartyGateway"

// testHook, when set by a test, gets the outputs once they exist.
var testHook func(feed *dsmrfeed.Server, web *httpapi.Server)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] -device PORT [-mqttBroker URL] [-dsmrListen HOST:PORT]\n"+
		"    [-http HOST:PORT] [-stdout text|json] [flags]\n\n"+
		"Reads the meter once and serves every telegram to each output given: an MQTT broker,\n"+
		"DSMR clients over TCP (Home Assistant, dsmr-reader, evcc, Node-RED), HTTP (a live page,\n"+
		"Prometheus /metrics, JSON and Server-Sent Events), standard output.", stdout, stderr)
	flags := cli.AddLiveFlags(fset, "stop after `n` telegrams (0: run until interrupted)")
	mf := mqttpub.AddFlags(fset, "")
	df := dsmrfeed.AddFlags(fset)
	hf := httpapi.AddFlags(fset)
	var print stdoutFlag
	fset.Var(&print, "stdout", "print every telegram on standard output as `text` (as the meter sent it) or json\n(off when not given)")
	c, done, err := flags.Parse(fset, args, stdout, stderr)
	if done || err != nil {
		return err // -list has printed the ports, or the command line is wrong
	}
	if mf.RemoveDiscovery() {
		return removeDiscovery(ctx, flags, c, mf, stdout)
	}
	if mf.Broker == "" && !df.Enabled() && !hf.Enabled() && !print.on {
		return cli.Usagef("nothing to serve: give one or more of -mqttBroker URL, -dsmrListen HOST:PORT, -http HOST:PORT, -stdout text|json")
	}
	log := cli.Logger("")

	var outputs []live.Output
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	var feed *dsmrfeed.Server
	if df.Enabled() {
		cfg, err := df.Config(log)
		if err != nil {
			return cli.Usagef("%w", err)
		}
		if feed, err = dsmrfeed.Listen(cfg); err != nil {
			return listenError("-dsmrListen", err)
		}
		closers = append(closers, feed.Close)
		outputs = append(outputs, feed)
	}
	var web *httpapi.Server
	if hf.Enabled() {
		var stream atomic.Pointer[p1.Stream]
		flags.OnStream = stream.Store
		health := func() httpapi.Health {
			if st := stream.Load(); st != nil {
				return httpapi.HealthOf(st.Stats())
			}
			return httpapi.Health{}
		}
		cfg, err := hf.Config(*flags.Timeout, health, log)
		if err != nil {
			return cli.Usagef("%w", err)
		}
		if feed != nil {
			cfg.Collectors = append(cfg.Collectors, feed.Collector())
		}
		if web, err = httpapi.Listen(cfg); err != nil {
			return listenError("-http", err)
		}
		closers = append(closers, web.Close)
		outputs = append(outputs, web)
	}
	if mf.Broker != "" {
		cfg, err := mf.Config(cli.Logger("mqtt"))
		if err != nil {
			return cli.Usagef("%w", err)
		}
		pub, err := mqttpub.New(cfg)
		if err != nil {
			if errors.Is(err, mqttpub.ErrQueueLocked) {
				return cli.WithExitStatus(err, cli.ExitLocked)
			}
			return cli.Usagef("%w", err)
		}
		outputs = append(outputs, mqttpub.NewOutput(pub))
	}
	if print.on {
		outputs = append(outputs, live.NewPrinter(stdout, print.kind))
	}
	if testHook != nil {
		testHook(feed, web)
	}
	// A service: a device that is not there yet is waited for.
	return brokerStatus(flags.RunLive(ctx, c, log, outputs...))
}

// removeDiscovery is -haRemove: the meter's Home Assistant discovery
// configs are removed from -mqttBroker, and nothing is served.
func removeDiscovery(ctx context.Context, flags *cli.LiveFlags, c *smarty.Cipher, mf *mqttpub.Flags, stdout io.Writer) error {
	if mf.Broker == "" {
		return cli.Usagef("-haRemove needs -mqttBroker: the broker to remove the meter's discovery configs from")
	}
	cfg, err := mf.Config(cli.Logger("mqtt"))
	if err != nil {
		return cli.Usagef("%w", err)
	}
	return brokerStatus(mqttpub.RunRemove(ctx, cfg, stdout, func(ctx context.Context, o live.Output) error {
		return flags.RunLive(ctx, c, cli.Logger(""), o)
	}))
}

// brokerStatus gives a refusal of the broker, which a restart cannot fix,
// its exit status.
func brokerStatus(err error) error {
	if errors.Is(err, mqttpub.ErrAuth) || errors.Is(err, mqttpub.ErrTLS) {
		return cli.WithExitStatus(err, cli.ExitBroker)
	}
	return err
}

// listenError is the error of an address that cannot be listened on.
func listenError(flag string, err error) error {
	return fmt.Errorf("%s: %w (is another program serving that port? choose another)", flag, err)
}

// stdoutFlag is -stdout: off, or on in a format.
type stdoutFlag struct {
	on   bool
	kind format.Kind
}

func (f *stdoutFlag) String() string {
	if f == nil || !f.on {
		return ""
	}
	return f.kind.String()
}

func (f *stdoutFlag) Set(s string) error {
	if err := f.kind.Set(s); err != nil {
		return err
	}
	f.on = true
	return nil
}
