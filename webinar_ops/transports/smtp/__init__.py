"""The `smtp` transport: smtplib, one connection per wave, with TLS and login.

Its settings (SMTP_*) are in settings.py, the transport in transport.py, and the plugin that
the registry loads (entry point `smtp` of `webinar_ops.transports`) in plugin.py.
"""

from webinar_ops.transports.smtp.plugin import SmtpPlugin
from webinar_ops.transports.smtp.settings import SmtpSettings
from webinar_ops.transports.smtp.transport import DEFAULT_PORTS, SmtpTransport

plugin = SmtpPlugin()

__all__ = ["DEFAULT_PORTS", "SmtpSettings", "SmtpTransport", "plugin"]
