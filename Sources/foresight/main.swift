// The `foresight` executable: the command line of ForesightCommands, with ForesightServe's web
// server for `--serve` and ForesightFleet's Flower client for `--fleet`, parsed and run.

import ForesightCommands
import ForesightServe

LiveViewHost.install(HummingbirdLiveViewHost())
FleetHost.install(FlowerFleetHost())
Foresight.main()
