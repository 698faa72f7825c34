"""The `maildir` transport: the embedded default, writing each message into a Maildir.

Its settings (MAIL_OUTBOX_DIR) are in settings.py, the transport in transport.py, and the
plugin that the registry loads (entry point `maildir` of `webinar_ops.transports`) in plugin.py.
"""

from webinar_ops.transports.maildir.plugin import MaildirPlugin
from webinar_ops.transports.maildir.settings import MaildirSettings
from webinar_ops.transports.maildir.transport import MaildirTransport

plugin = MaildirPlugin()

__all__ = ["MaildirSettings", "MaildirTransport", "plugin"]
