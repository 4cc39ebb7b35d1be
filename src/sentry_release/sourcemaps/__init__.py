"""Step 4: inject debug IDs into JavaScript bundles and upload artifact bundles.

`discover` finds files, `inject` writes debug IDs, `bundle` builds the ZIP, `upload` runs the
chunk protocol. Built by the source maps work (issue 4).
"""
