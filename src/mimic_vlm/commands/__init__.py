"""CLI sub-commands, one module per area; each module's `register(app)` adds its commands.

Commands stay thin: parse options, call the library, print. No logic lives here.
"""
