"""What a browser test page must not show: console errors, uncaught exceptions, dialogs."""


class Problems:
    """Console errors, uncaught exceptions and dialogs seen by a page."""

    def __init__(self, page):
        self.errors, self.dialogs = [], []
        self.allow_http_errors = False
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append("pageerror: %s" % error))
        page.on("dialog", self._dialog)

    def _console(self, message):
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if url.endswith("/favicon.ico"):
            return  # the entry page opened on its own has no icon; not the tab's doing
        if self.allow_http_errors and message.text.startswith(
            "Failed to load resource: the server responded with a status of 4"
        ):
            return
        self.errors.append("console: %s (%s)" % (message.text, url))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()
