/* `bulwark-device send-events`: upload queued events. */
#include "cli.h"
#include "agent.h"
#include "events.h"

int bw_devcmd_send_events(int argc, char **argv)
{
	return bw_devcmd_simple(argc, argv, "bulwark-device send-events",
				"POST queued events to the server in batches; "
				"they stay queued if that fails.",
				bw_dev_send_events, 0);
}
