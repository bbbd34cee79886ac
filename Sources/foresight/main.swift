// The `foresight` executable: the command line of ForesightCommands, with ForesightServe's web
// server for `--serve`, parsed and run.

import ForesightCommands
import ForesightServe

LiveViewHost.install(HummingbirdLiveViewHost())
Foresight.main()
