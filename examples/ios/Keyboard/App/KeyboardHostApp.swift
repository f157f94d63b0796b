// The keyboard's containing app: installs the model it ships into the App Group container (where
// the extension maps it read-only) and explains how to turn the keyboard on. SwiftUI views and
// file calls only; the copy itself is SampleCore's ModelInstaller.

import SampleCore
import SwiftUI

@main
struct KeyboardHostApp: App {
    var body: some Scene {
        WindowGroup { SetupView() }
    }
}

@MainActor
final class ModelSetup: ObservableObject {
    @Published var status = "Installing the model…"
    @Published var installed = false

    /// The model bundled with the app (see project.yml: Resources/).
    static let bundledModelName = "SmolLM2-135M-Instruct.Q4_1"

    func install() {
        guard let source = Bundle.main.url(forResource: Self.bundledModelName, withExtension: "gguf") else {
            status = "The app bundle has no \(Self.bundledModelName).gguf: add it to Resources/ and rebuild."
            return
        }
        guard let container = FileManager.default
            .containerURL(forSecurityApplicationGroupIdentifier: SharedContainer.appGroup) else {
            status = "No App Group container: check the \(SharedContainer.appGroup) entitlement."
            return
        }
        Task.detached(priority: .utility) {
            let result = Result {
                try ModelInstaller.install(from: source, into: container) { file in
                    // Readable after the first unlock, also while the phone is locked again
                    // (a keyboard can be opened over the lock screen's apps).
                    try FileManager.default.setAttributes(
                        [.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication],
                        ofItemAtPath: file.path)
                }
            }
            await MainActor.run {
                switch result {
                case .success:
                    self.installed = true
                    self.status = "Model installed."
                case .failure(let error):
                    self.status = "Could not install the model: \(error.localizedDescription)"
                }
            }
        }
    }
}

struct SetupView: View {
    @StateObject private var setup = ModelSetup()
    @State private var tryIt = ""
    /// The keyboard's language, in the App Group defaults the extension reads.
    @AppStorage(KeyboardLanguage.settingsKey, store: UserDefaults(suiteName: SharedContainer.appGroup))
    private var language = KeyboardLanguage.default.code

    var body: some View {
        NavigationView {
            Form {
                Section("Model") {
                    Text(setup.status)
                }
                Section("Turn the keyboard on") {
                    Text("1. Open Settings › General › Keyboard › Keyboards.")
                    Text("2. Tap Add New Keyboard… and choose PocketLM.")
                    Text("3. In any text field, hold 🌐 and pick PocketLM.")
                    Text("Full Access is not needed: the keyboard reads the model from this app's shared container and never uses the network.")
                        .font(.footnote).foregroundColor(.secondary)
                }
                Section("Language") {
                    Picker("Suggestions in", selection: $language) {
                        ForEach(KeyboardLanguage.allCases, id: \.self) { l in
                            Text(l.displayName).tag(l.code)
                        }
                    }
                    Text("Languages other than English need a multilingual model (Gemma 3 270M).")
                        .font(.footnote).foregroundColor(.secondary)
                }
                Section("Try it") {
                    TextField("Type here", text: $tryIt)
                }
            }
            .navigationTitle("PocketLM Keyboard")
        }
        .onAppear { setup.install() }
    }
}
