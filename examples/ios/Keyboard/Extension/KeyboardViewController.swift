// The keyboard extension: draws keys and the three-slot strip, forwards every event to the
// shared keyboard controller through SampleCore's KeyboardGlue. Views and proxy calls only; the
// behaviour lives (and is tested) in Rust (rust/pocketlm-ffi/src/keyboard_core).

import SampleCore
import UIKit

final class KeyboardViewController: UIInputViewController {
    private var controller: KeyboardGlue?
    private let stripButtons = (0..<3).map { _ in UIButton(type: .system) }
    private let statusLabel = UILabel()
    private var globeKey: UIButton?
    private var shift = false
    private var letterKeys: [UIButton] = []

    /// The model the containing app copied into the App Group container (read-only mapping).
    private static var modelURL: URL? {
        FileManager.default
            .containerURL(forSecurityApplicationGroupIdentifier: SharedContainer.appGroup)?
            .appendingPathComponent(ModelInstaller.fileName)
    }

    /// Where the predictor keeps its warm-up: iOS starts the extension afresh almost every
    /// time the keyboard appears, and this file lets it skip the framing prefix's evaluation.
    /// Where the model's interleaved copy (faster decode) is written once: the extension's own
    /// Caches directory (the system may purge it; the next start writes it again).
    private static var layoutCacheDir: String? {
        FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask).first?
            .appendingPathComponent("LayoutCache", isDirectory: true).path
    }

    private static var stateDir: String? {
        FileManager.default
            .containerURL(forSecurityApplicationGroupIdentifier: SharedContainer.appGroup)?
            .appendingPathComponent("KeyboardState", isDirectory: true).path
    }

    /// The language picked in the containing app (App Group defaults; English when unset).
    private static var storedLanguage: KeyboardLanguage {
        KeyboardLanguage.stored(in: UserDefaults(suiteName: SharedContainer.appGroup))
    }

    override func viewWillAppear(_ animated: Bool) {
        super.viewWillAppear(animated)
        // Picked in the app since the keyboard was last shown: load the predictor for it.
        controller?.setLanguage(Self.storedLanguage)
    }

    override func viewDidLoad() {
        super.viewDidLoad()
        let path = Self.modelURL?.path ?? "/missing-app-group-container"
        buildLayout()
        // Fails only when the controller's worker thread cannot start: the keyboard stays empty.
        guard let controller = try? KeyboardGlue(document: ProxyDocument(textDocumentProxy),
                                                 deliver: deliverOnMain) else {
            statusLabel.text = "Suggestions unavailable"
            return
        }
        // onChange runs on the main queue (deliverOnMain); hop onto the main actor.
        controller.onChange = { [weak self] _ in
            guard let self else { return }
            Task { @MainActor in self.render() }
        }
        self.controller = controller
        controller.setLanguage(Self.storedLanguage)
        controller.startField()
        controller.loadModel(path: path, stateDir: Self.stateDir, layoutCacheDir: Self.layoutCacheDir)
        render()
    }

    override func viewWillLayoutSubviews() {
        globeKey?.isHidden = !needsInputModeSwitchKey
        super.viewWillLayoutSubviews()
    }

    override func textDidChange(_ textInput: UITextInput?) {
        super.textDidChange(textInput)
        controller?.textDidChange()
        render()
    }

    override func didReceiveMemoryWarning() {
        super.didReceiveMemoryWarning()
        controller?.memoryWarning()
    }

    // MARK: layout

    private static let rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]

    private func buildLayout() {
        let strip = UIStackView(arrangedSubviews: stripButtons)
        strip.distribution = .fillEqually
        for (slot, button) in stripButtons.enumerated() {
            button.tag = slot
            // For the UI test (examples/ios/UITests/Keyboard).
            button.accessibilityIdentifier = "pocketlm.strip.\(slot)"
            button.titleLabel?.font = .systemFont(ofSize: slot == 1 ? 17 : 16, weight: slot == 1 ? .semibold : .regular)
            button.addTarget(self, action: #selector(stripTapped(_:)), for: .touchUpInside)
        }
        statusLabel.textAlignment = .center
        statusLabel.font = .systemFont(ofSize: 13)
        statusLabel.textColor = .secondaryLabel

        var rows: [UIView] = [strip, statusLabel]
        for (i, letters) in Self.rows.enumerated() {
            var keys = letters.map { key(String($0), action: #selector(letterTapped(_:))) }
            letterKeys += keys
            if i == 2 {
                keys.insert(key("⇧", action: #selector(shiftTapped)), at: 0)
                keys.append(key("⌫", action: #selector(backspaceTapped)))
            }
            rows.append(row(keys))
        }
        var bottom: [UIButton] = []
        let globe = key("🌐", action: #selector(handleInputModeList(from:with:)), event: .allTouchEvents)
        globeKey = globe
        bottom.append(globe)
        bottom += [".", ","].map { key($0, action: #selector(letterTapped(_:))) }
        bottom.append(key("space", action: #selector(spaceTapped)))
        bottom += ["?", "!"].map { key($0, action: #selector(letterTapped(_:))) }
        bottom.append(key("return", action: #selector(returnTapped)))
        rows.append(row(bottom))

        let stack = UIStackView(arrangedSubviews: rows)
        stack.axis = .vertical
        stack.spacing = 6
        stack.translatesAutoresizingMaskIntoConstraints = false
        view.addSubview(stack)
        NSLayoutConstraint.activate([
            stack.leadingAnchor.constraint(equalTo: view.leadingAnchor, constant: 3),
            stack.trailingAnchor.constraint(equalTo: view.trailingAnchor, constant: -3),
            stack.topAnchor.constraint(equalTo: view.topAnchor, constant: 4),
            stack.bottomAnchor.constraint(equalTo: view.bottomAnchor, constant: -4),
            strip.heightAnchor.constraint(equalToConstant: 36),
        ])
    }

    private func key(_ title: String, action: Selector, event: UIControl.Event = .touchUpInside) -> UIButton {
        let button = UIButton(type: .system)
        button.setTitle(title, for: .normal)
        button.titleLabel?.font = .systemFont(ofSize: 20)
        button.backgroundColor = .secondarySystemBackground
        button.layer.cornerRadius = 5
        button.heightAnchor.constraint(equalToConstant: 42).isActive = true
        button.addTarget(self, action: action, for: event)
        return button
    }

    private func row(_ keys: [UIButton]) -> UIStackView {
        let row = UIStackView(arrangedSubviews: keys)
        row.spacing = 5
        row.distribution = .fillProportionally
        return row
    }

    // MARK: events (forwarded; the controller edits through the proxy)

    @objc private func letterTapped(_ sender: UIButton) {
        guard var text = sender.title(for: .normal) else { return }
        if shift || controller?.state.autoShift == true { text = text.uppercased() }
        shift = false
        controller?.type(text)
        render()
    }

    @objc private func spaceTapped() { controller?.type(" "); render() }
    @objc private func returnTapped() { controller?.type("\n"); render() }
    @objc private func backspaceTapped() { controller?.backspace(); render() }
    @objc private func shiftTapped() { shift.toggle(); render() }

    @objc private func stripTapped(_ sender: UIButton) {
        controller?.tap(slot: sender.tag)
        render()
    }

    // MARK: drawing

    #if DEBUG
    /// This process's send right to itself, taken once (`mach_task_self_` is a C global that
    /// Swift 6 refuses to read from a nonisolated context).
    private static let task: mach_port_t = task_self_trap()

    /// phys_footprint, the figure the system's memory limit for extensions is checked against.
    static func footprintMiB() -> Double {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<integer_t>.size)
        let result = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(task, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        return result == KERN_SUCCESS ? Double(info.phys_footprint) / 1_048_576 : 0
    }
    #endif

    private func render() {
        guard let state = controller?.state else { return }
        for (slot, button) in stripButtons.enumerated() {
            button.setTitle(state.strip[slot], for: .normal)
        }
        #if DEBUG
        // The UI test reads the extension's memory from here (Debug builds only).
        stripButtons[1].accessibilityValue = String(format: "footprint %.1f MiB", Self.footprintMiB())
        #endif
        switch state.modelState {
        case .failed(let message, _):
            statusLabel.text = message
            statusLabel.isHidden = false
        case .loading, .ready:
            statusLabel.isHidden = true
        }
        let upper = shift || state.autoShift
        for key in letterKeys {
            guard let title = key.title(for: .normal) else { continue }
            key.setTitle(upper ? title.uppercased() : title.lowercased(), for: .normal)
        }
    }
}
