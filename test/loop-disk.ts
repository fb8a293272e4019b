/**
 * A disk the tests can cut the power of: an image file attached to a loop device, ext4 on it,
 * mounted in a temporary directory. What the filesystem has written to the device is in the image
 * file (the loop device writes there); what it still holds in its page cache is not. So the
 * image, read at one instant, is the disk as a power cut at that instant would leave it: writes
 * fsynced before are in it, writes left in the page cache are not. That is what a kill -9 cannot
 * show (the kernel keeps the page cache of a killed process and writes it later).
 *
 * Device-mapper (xfstests' dm-flakey and dm-error) would cut the device itself; kernels without
 * it (a Firecracker guest has none) still have loop devices, hence the image. Needs root,
 * /dev/loop-control, losetup and mount (Debian package mount), mkfs.ext4 and e2fsck (e2fsprogs).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Runs a command, throwing with its output when it fails (exit codes in `ok` pass). */
export function run (cmd: string, args: string[], ok: number[] = [0]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 })
  if (r.error !== undefined) throw new Error(`${cmd} cannot be run: ${r.error.message}`)
  if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited with ${String(r.status ?? r.signal)}: ${r.stderr.trim()} ${r.stdout.trim()}`.trim())
  return r.stdout + r.stderr
}

/** Why a loop device cannot be used here, or undefined when it can (a 1 MiB trial attached and detached). */
export function loopUnavailable (): string | undefined {
  if (process.getuid?.() !== 0) return 'not root'
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control (a container needs --privileged, or --device /dev/loop-control and /dev/loop*)'
  for (const [cmd, arg] of [['losetup', '--version'], ['mount', '--version'], ['umount', '--version'], ['mkfs.ext4', '-V'], ['e2fsck', '-V']]) {
    const r = spawnSync(cmd, [arg], { encoding: 'utf8' })
    if (r.error !== undefined) return `${cmd} is not on PATH (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
  }
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-loop-trial-'))
  try {
    writeFileSync(join(dir, 'img'), Buffer.alloc(1024 * 1024))
    const device = spawnSync('losetup', ['--find', '--show', join(dir, 'img')], { encoding: 'utf8' })
    if (device.status !== 0) return `losetup --find cannot attach an image: ${device.stderr.trim()}`
    run('losetup', ['-d', device.stdout.trim()])
    return undefined
  } catch (err) {
    return (err as Error).message
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One disk: `image` on `device`, mounted at `mount` (while `mounted`). */
export class LoopDisk {
  readonly dir: string
  /** The image attached now (after `restore`, a new file: the old one may still take a lazy unmount's writeback). */
  image: string
  readonly mount: string
  device?: string
  private mounted = false

  private constructor (dir: string) {
    this.dir = dir
    this.image = join(dir, 'disk.img')
    this.mount = join(dir, 'mnt')
  }

  /**
   * A fresh ext4 disk of `sizeMiB`, mounted. Inode tables and journal are written by mkfs (not
   * lazily after the mount, by a kernel thread writing while a test reads the image). `commit=60`:
   * the filesystem's own commit every 5 s would make durable by chance, now and then, a change
   * that was never synced; a test of fsync must not depend on its timing.
   */
  static create (sizeMiB = 64): LoopDisk {
    const disk = new LoopDisk(mkdtempSync(join(tmpdir(), `agentmesh-disk-${process.pid}-`)))
    try {
      writeFileSync(disk.image, '')
      run('truncate', ['-s', `${sizeMiB}M`, disk.image])
      disk.attach()
      run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', disk.device as string])
      disk.mountIt()
      return disk
    } catch (err) {
      disk.destroy()
      throw err
    }
  }

  /**
   * The disk as a power cut now would leave it: the image read twice until both reads agree, so
   * no write of the device (a late writeback) fell between the start and the end of the read.
   */
  powerCut (): Buffer {
    for (let i = 0; i < 20; i++) {
      const a = readFileSync(this.image)
      const b = readFileSync(this.image)
      if (a.equals(b)) return a
    }
    throw new Error(`the image ${this.image} kept changing while it was read: no instant to cut at`)
  }

  /**
   * Detaches this disk (unmounting it: what the page cache held is written to the old image,
   * which is then thrown away) and puts `contents` (from `powerCut`) in its place: the disk after
   * the power came back. e2fsck replays the journal as the kernel would at mount, and repairs
   * what it must; its report is returned.
   */
  restore (contents: Buffer): string {
    this.unmount()
    this.detach()
    this.image = join(this.dir, `after-cut-${Date.now()}.img`)
    writeFileSync(this.image, contents)
    this.attach()
    const report = run('e2fsck', ['-f', '-y', this.device as string], [0, 1])
    this.mountIt()
    return report
  }

  /** Unmounts, detaches and removes everything; safe to call in any state, and twice. */
  destroy (): void {
    const errors: string[] = []
    try { this.unmount() } catch (err) { errors.push((err as Error).message) }
    try { this.detach() } catch (err) { errors.push((err as Error).message) }
    rmSync(this.dir, { recursive: true, force: true })
    if (errors.length > 0) throw new Error(`cleaning up ${this.dir}: ${errors.join('; ')}`)
  }

  private attach (): void {
    this.device = run('losetup', ['--find', '--show', this.image]).trim()
  }

  private detach (): void {
    if (this.device === undefined) return
    run('losetup', ['-d', this.device])
    this.device = undefined
  }

  private mountIt (): void {
    mkdirSync(this.mount, { recursive: true })
    run('mount', ['-t', 'ext4', '-o', 'commit=60', this.device as string, this.mount])
    this.mounted = true
  }

  private unmount (): void {
    if (!this.mounted) return
    // A process killed a moment ago may still hold files open: a lazy unmount then finishes once it is gone.
    const r = spawnSync('umount', [this.mount], { encoding: 'utf8' })
    if (r.status !== 0) run('umount', ['-l', this.mount])
    this.mounted = false
  }
}
