// The App Group both the keyboard extension and its containing app belong to (project.yml
// declares it in both entitlements). The extension has no Full Access: this container is the only
// place it shares with the app.

enum SharedContainer {
    static let appGroup = "group.dev.pocketlm.samples.keyboard"
}
