"""The default mail templates: English here, each other language in a folder named by its tag.

A package only so that the installed wheel carries them inside `webinar_ops` (found through
importlib.resources); the templates themselves are the .txt and .html files."""
